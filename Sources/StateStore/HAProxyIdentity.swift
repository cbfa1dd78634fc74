import DiscoveryCore

/// Which HAProxy process the recorded slots were applied to; a different one means HAProxy restarted.
public struct HAProxyIdentity: Sendable, Hashable, Codable {
    public var pid: Int
    public var startTimeSec: Int?

    public init(pid: Int, startTimeSec: Int?) {
        self.pid = pid
        self.startTimeSec = startTimeSec
    }
}
