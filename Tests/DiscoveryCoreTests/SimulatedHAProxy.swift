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
        }
    }

    func live(_ backend: String) -> [String: LiveServer] { servers[backend] ?? [:] }

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
            return
        }
        guard var server = backend[c.server] else { throw CommandError(description: "No such server: \(c.line)") }
        switch c {
        case .setAddress(_, _, let address, let port):
            guard AddressLiteral.isValid(address), (1...65535).contains(port) else { throw CommandError(description: "invalid address: \(c.line)") }
            server.address = address
            server.port = port
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
