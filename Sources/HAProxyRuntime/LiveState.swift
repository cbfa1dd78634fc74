/// HAProxy's live view of its backends, read in one round trip (`show info` + `show servers state`).
public struct LiveState: Sendable {
    public var info: HAProxyInfo
    /// Servers by backend, then by server name.
    public var backends: [String: [String: LiveServer]]

    public init(info: HAProxyInfo, backends: [String: [String: LiveServer]]) {
        self.info = info
        self.backends = backends
    }

    /// Builds the view from parsed `show servers state` rows.
    public init(info: HAProxyInfo, rows: [ServerStateRow]) {
        var backends: [String: [String: LiveServer]] = [:]
        for row in rows { backends[row.backend, default: [:]][row.server] = LiveServer(row: row) }
        self.init(info: info, backends: backends)
    }
}

extension LiveServer {
    /// The server a `show servers state` row describes.
    public init(row: ServerStateRow) {
        self.init(name: row.server, address: row.address, port: row.port, admin: AdminState(adminBits: row.adminState), weight: row.userWeight)
    }
}
