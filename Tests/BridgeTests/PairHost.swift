import DiscoveryCore
import Foundation
import HAProxyRuntime
import TestSupport

/// One host of an HA pair in a test: a real HAProxy joined to the other host by a `peers` section, and a
/// `discovery-bridge run` child with its own config, instances file, state file and `/status` endpoint.
final class PairHost: @unchecked Sendable {
    let name: String
    let dir: TemporaryDirectory
    let haproxy: HAProxyInstance
    let metricsPort: Int
    private(set) var bridge: BridgeProcess?

    var configPath: String { dir.file("config.json") }
    var statePath: String { dir.file("state.json") }
    var instancesPath: String { dir.file("instances.json") }
    var statusURL: String { "http://127.0.0.1:\(metricsPort)/status" }

    /// `backendsJSON(instancesPath)` is the config's `backends` array; `haproxyBackends` the haproxy.cfg text after the
    /// frontends (the peers section and the rendered backends).
    init(name: String, peerName: String, backendNames: [String], dir: TemporaryDirectory, metricsPort: Int,
         backendsJSON: String, haproxyBackends: String) async throws {
        self.name = name
        self.dir = dir
        self.metricsPort = metricsPort
        haproxy = try await HAProxyInstance(
            backends: backendNames.map { .init(name: $0, slots: 1) }, backendsConfig: haproxyBackends, extraArguments: ["-L", peerName]
        )
        try Self.config(socketPath: haproxy.socketPath, dir: dir, metricsPort: metricsPort, backendsJSON: backendsJSON).write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// The bridge config of a host; `render` runs on it before HAProxy exists, so the socket path is given.
    static func config(socketPath: String, dir: TemporaryDirectory, metricsPort: Int, backendsJSON: String) -> String {
        """
        {
          "haproxy": { "runtime_api": "unix:\(socketPath)", "drain_check_interval": "50ms", "restart_check_interval": "200ms" },
          "state_file": "\(dir.file("state.json"))",
          "providers": { "file": { "path": "\(dir.file("instances.json"))" } },
          "guard": { "max_removed_fraction": 1.0, "min_servers": 0 },
          "metrics": { "listen": "127.0.0.1:\(metricsPort)" },
          "backends": \(backendsJSON)
        }
        """
    }

    /// Writes the instances file atomically: id → port, all on 127.0.0.1.
    func writeInstances(_ instances: [(id: String, port: Int)]) throws {
        let items = instances.map { "{\"id\": \"\($0.id)\", \"address\": \"127.0.0.1\", \"port\": \($0.port)}" }
        try "{\"services\": {\"web\": [\(items.joined(separator: ", "))]}}".write(toFile: instancesPath + ".tmp", atomically: false, encoding: .utf8)
        guard rename(instancesPath + ".tmp", instancesPath) == 0 else { throw TestSupportError("rename failed") }
    }

    func startBridge() throws {
        bridge = try BridgeProcess(config: configPath, logPath: dir.file("bridge.log"))
    }

    /// Waits until every backend serves exactly `ports` (on 127.0.0.1).
    func waitServing(_ ports: [Int], backends: [String], timeout: Duration = .seconds(20)) async throws {
        let want = Set(ports.map { "127.0.0.1:\($0)" })
        for backend in backends {
            try await eventually("\(name) \(backend) serving \(ports.sorted())", timeout: timeout, every: .milliseconds(50)) {
                try await self.haproxy.readyEndpoints(backend) == want
            }
        }
    }

    /// Entries of the stick table `table` on this host.
    func stickEntries(_ table: String) async throws -> Int {
        let client = RuntimeClient(endpoint: haproxy.endpoint, timeout: .seconds(2))
        defer { client.close() }
        return try await client.raw(["show table \(table)"]).joined(separator: "\n").split(separator: "\n").filter { $0.contains(" key=") }.count
    }

    /// Slot → served instance port, from HAProxy (for failure messages and the precondition that the hosts disagree).
    func slotPorts(_ backend: String) async throws -> [String: Int] {
        var out: [String: Int] = [:]
        for (server, row) in try await haproxy.servers(backend) where row.adminState & 0x3B == 0 { out[server] = row.port }
        return out
    }

    /// The port the bridge's `/status` says serves `instance` in `backend` (an active slot), or nil.
    func servedPort(_ backend: String, instance: String) async throws -> Int? {
        let doc = try JSONValue.parse(try await httpGet(statusURL).body)
        for slot in doc["backends"]?[backend]?["slots"]?.arrayValue ?? [] where slot["instance"]?.stringValue == instance {
            if slot["state"]?.stringValue == "active" { return slot["port"]?.intValue }
        }
        return nil
    }

    func cleanup() {
        bridge?.stop()
        bridge = nil
        haproxy.cleanup()
    }
}

/// One HTTP exchange through a frontend, from a chosen loopback source address and with an optional cookie.
struct PairRequest {
    /// The answering backend's port (the demo backends say `hello from backend-N (127.0.0.1:PORT)`), or nil on no answer.
    var port: Int?
    var setCookie: String?

    static func send(port: Int, from source: String? = nil, cookie: String? = nil) async throws -> PairRequest {
        var args = ["-s", "-m", "3", "-D", "-", "http://127.0.0.1:\(port)/"]
        if let source { args += ["--interface", source] }
        if let cookie { args += ["-H", "Cookie: \(cookie)"] }
        let r = try await runCommand(which("curl") ?? "/usr/bin/curl", args, timeout: .seconds(8))
        var result = PairRequest()
        for line in r.stdout.split(whereSeparator: { $0 == "\r\n" || $0 == "\n" }) {
            let text = String(line)
            if text.lowercased().hasPrefix("set-cookie:") {
                result.setCookie = text.dropFirst("set-cookie:".count).split(separator: ";").first.map { String($0).trimmingCharacters(in: .whitespaces) }
            }
            if text.hasPrefix("hello from "), let open = text.lastIndex(of: ":"), let close = text.lastIndex(of: ")") {
                result.port = Int(text[text.index(after: open)..<close])
            }
        }
        return result
    }
}
