// The core's public types use HAProxy's plain values (slot actions, live servers, the endpoint) and the shared
// helpers; re-exported so `import DiscoveryCore` is enough for providers, the bridge and tests.
@_exported import Basics
@_exported import HAProxyModel
