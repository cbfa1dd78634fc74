/// HAProxy's view of which server holds which `ip:port`, kept while a plan is built, so that no address is ever on two
/// servers at once.
///
/// HAProxy 2.6 indexes a backend's servers by `ip:port` (`used_server_addr`, a unique tree in proxy.c) for
/// `srvkey addr` stick tables, and keeps only the first server at an address: a second server given the same address
/// stays out of the index until its address changes again, so a synced stick entry for that address reaches the wrong
/// server (or none). Every `set server … addr` the planner emits goes through `apply`, which orders the moves so that an
/// address is set only once its previous holder has left it, and breaks a cycle (two servers swapping addresses) by
/// sending one of them to the placeholder first.
public struct AddressIndex: Sendable {
    /// One `set server … addr` the planner wants.
    public struct Move: Sendable, Hashable {
        public var server: String
        public var address: String
        public var port: Int
        public let endpoint: String

        public init(server: String, address: String, port: Int) {
            self.server = server
            self.address = address
            self.port = port
            endpoint = Endpoint.key(address: address, port: port)
        }
    }

    private var endpointOf: [String: String] = [:]
    private var serverAt: [String: String] = [:]

    public init() {}

    /// Records where `server` is now (before any command of the plan).
    public mutating func record(server: String, endpoint: String) {
        endpointOf[server] = endpoint
        if endpoint != PlaceholderAddress.endpoint, serverAt[endpoint] == nil { serverAt[endpoint] = server }
    }

    public func endpoint(of server: String) -> String? { endpointOf[server] }

    /// The server holding `endpoint` (never the placeholder, which every free server shares).
    public func server(at endpoint: String) -> String? { serverAt[endpoint] }

    /// Appends to `out` the commands that carry out `moves` without two servers sharing an address between any two.
    public mutating func apply(_ moves: [Move], backend: String, to out: inout [SlotAction]) {
        var queue = moves
        while !queue.isEmpty {
            var blocked: [Move] = []
            for m in queue {
                if let holder = serverAt[m.endpoint], holder != m.server, m.endpoint != PlaceholderAddress.endpoint {
                    blocked.append(m)
                } else {
                    out.append(set(m, backend: backend))
                }
            }
            if blocked.count == queue.count, let first = blocked.first, let holder = serverAt[first.endpoint] {
                // Every remaining move waits on another's address: a cycle. Free one address through the placeholder.
                out.append(set(Move(server: holder, address: PlaceholderAddress.host, port: PlaceholderAddress.port), backend: backend))
            }
            queue = blocked
        }
    }

    private mutating func set(_ m: Move, backend: String) -> SlotAction {
        if let old = endpointOf[m.server], serverAt[old] == m.server { serverAt[old] = nil }
        endpointOf[m.server] = m.endpoint
        if m.endpoint != PlaceholderAddress.endpoint { serverAt[m.endpoint] = m.server }
        return .setAddress(backend: backend, server: m.server, address: m.address, port: m.port)
    }
}

extension LiveServer {
    /// Whether HAProxy has the server at the placeholder (free, freshly added, or as haproxy.cfg declares it).
    var isAtPlaceholder: Bool { address == PlaceholderAddress.host && port == PlaceholderAddress.port }
}
