/// The parts of `show info` the bridge uses, plus every field as read.
public struct HAProxyInfo: Sendable, Hashable {
    public var pid: Int
    public var startTimeSec: Int?
    public var uptimeSec: Int?
    public var version: String
    public var fields: [String: String]
}
