// The client's API speaks in HAProxy's plain values (endpoint, slot actions, live servers); re-exported so
// `import HAProxyRuntime` is enough.
@_exported import Basics
@_exported import HAProxyModel
