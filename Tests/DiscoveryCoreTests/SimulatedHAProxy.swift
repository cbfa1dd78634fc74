import DiscoveryCore
import HAProxyRuntime

/// HAProxy's runtime server state, changed by `SlotAction`s the way HAProxy changes it.
///
/// Template servers (`server-template <prefix> 1-N 127.0.0.1:9 disabled`) exist from the start, at the placeholder and in
/// maintenance, weight 1. `add server` creates a dynamic server in maintenance with weight 1 and health checks off until
/// `enable health`. A command naming an unknown backend or server, or adding a server that exists, fails as HAProxy's would.
/// A restart forgets every runtime change and every dynamic server.
struct SimulatedHAProxy {
    struct CommandError: Error, CustomStringConvertible {
        var description: String
    }

    /// Template server names per backend.
    let templates: [String: [String]]
    private(set) var servers: [String: [String: LiveServer]] = [:]
    /// `backend/server` of dynamic servers whose health checks were enabled.
    private(set) var healthEnabled: Set<String> = []
    /// How many commands were applied, for traces.
    private(set) var applied = 0
    /// HAProxy's address index per backend (`used_server_addr`, proxy.c): `ip:port` → the server found by a `srvkey addr`
    /// stick entry. Unique: a server given an address another server holds stays out of it until its address changes.
    private(set) var addressIndex: [String: [String: String]] = [:]
    /// The key each server's index node carries, in the index or not (HAProxy sets it even when the insert fails).
    private var nodeKey: [String: [String: String]] = [:]

    init(templates: [String: [String]]) {
        self.templates = templates
        restart()
    }

    init(backends: [BackendConfig]) {
        var t: [String: [String]] = [:]
        for b in backends { t[b.name] = (1...max(1, b.slots)).map(b.serverName) }
        self.init(templates: t)
    }

    /// HAProxy restarted (or reloaded without a server state file): back to haproxy.cfg.
    mutating func restart() {
        servers = [:]
        healthEnabled = []
        for (backend, names) in templates {
            var b: [String: LiveServer] = [:]
            for n in names { b[n] = LiveServer.placeholder(n) }
            servers[backend] = b
            addressIndex[backend] = [:]
            nodeKey[backend] = [:]
            for n in names { index(backend: backend, server: n, endpoint: "127.0.0.1:9") }
        }
    }

    /// `srv_set_addr_desc()`: a changed address leaves the index and the new one goes in if no other server holds it.
    private mutating func index(backend: String, server: String, endpoint: String) {
        if let old = nodeKey[backend]?[server] {
            if old == endpoint { return }
            if addressIndex[backend]?[old] == server { addressIndex[backend]?[old] = nil }
        }
        nodeKey[backend]?[server] = endpoint
        if addressIndex[backend]?[endpoint] == nil { addressIndex[backend]?[endpoint] = server }
    }

    /// Endpoints (not the placeholder) held by more than one server of `backend`.
    func sharedAddresses(_ backend: String) -> [String] {
        var count: [String: Int] = [:]
        for s in (servers[backend] ?? [:]).values where !(s.address == "127.0.0.1" && s.port == 9) {
            count[Endpoint.key(address: s.address, port: s.port), default: 0] += 1
        }
        return count.filter { $0.value > 1 }.map(\.key).sorted()
    }

    func live(_ backend: String) -> [String: LiveServer] { servers[backend] ?? [:] }

    /// A template server as a config file declares it (a reload from the managed file): address, admin state, weight.
    mutating func declare(backend: String, server: String, address: String, port: Int, admin: AdminState, weight: Int) {
        guard var s = servers[backend]?[server] else { return }
        s.address = address
        s.port = port
        s.admin = admin
        s.weight = weight
        servers[backend]?[server] = s
        index(backend: backend, server: server, endpoint: Endpoint.key(address: address, port: port))
    }

    /// Someone changed a server by hand (drift).
    mutating func tamper(backend: String, server: String, _ change: (inout LiveServer) -> Void) {
        guard var s = servers[backend]?[server] else { return }
        change(&s)
        servers[backend]?[server] = s
    }

    mutating func apply(_ commands: [SlotAction]) throws(CommandError) {
        for c in commands { try apply(c) }
    }

    mutating func apply(_ c: SlotAction) throws(CommandError) {
        guard var backend = servers[c.backend] else { throw CommandError(description: "No such backend: \(c.line)") }
        applied += 1
        if case .addServer(_, let name, _) = c {
            guard backend[name] == nil else { throw CommandError(description: "Already exists a server with the same name: \(c.line)") }
            backend[name] = LiveServer.placeholder(name)
            servers[c.backend] = backend
            index(backend: c.backend, server: name, endpoint: PlaceholderAddress.endpoint)
            return
        }
        guard var server = backend[c.server] else { throw CommandError(description: "No such server: \(c.line)") }
        switch c {
        case .setAddress(_, _, let address, let port):
            guard AddressLiteral.isValid(address), (1...65535).contains(port) else { throw CommandError(description: "invalid address: \(c.line)") }
            server.address = address
            server.port = port
            index(backend: c.backend, server: c.server, endpoint: Endpoint.key(address: address, port: port))
        case .setState(_, _, let state):
            server.admin = state
        case .setWeight(_, _, let weight):
            guard (0...256).contains(weight) else { throw CommandError(description: "invalid weight: \(c.line)") }
            server.weight = weight
        case .enableHealth:
            guard !(templates[c.backend] ?? []).contains(c.server) else {
                throw CommandError(description: "template server: health is configured in haproxy.cfg: \(c.line)")
            }
            healthEnabled.insert("\(c.backend)/\(c.server)")
        case .addServer:
            break
        }
        backend[c.server] = server
        servers[c.backend] = backend
    }
}
