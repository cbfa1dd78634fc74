/// A server as HAProxy currently has it (read from `show servers state` by HAProxyRuntime).
public struct LiveServer: Sendable, Hashable {
    public var name: String
    public var address: String
    public var port: Int
    public var admin: AdminState
    public var weight: Int

    public init(name: String, address: String, port: Int, admin: AdminState, weight: Int) {
        self.name = name
        self.address = address
        self.port = port
        self.admin = admin
        self.weight = weight
    }

    /// A server as HAProxy creates it for a slot: at the placeholder address, in maintenance, weight 1.
    public static func placeholder(_ name: String) -> LiveServer {
        LiveServer(name: name, address: PlaceholderAddress.host, port: PlaceholderAddress.port, admin: .maint, weight: 1)
    }
}
