import Bridge
import DiscoveryCore
import FileProvider
import Foundation
import HAProxyRuntime
import Logging
import StateStore
import TestSupport

/// A real HAProxy, an instances file, and an in-process bridge built by the same composition root as `run`.
final class BridgeHarness: @unchecked Sendable {
    let haproxy: HAProxyInstance
    let dir: TemporaryDirectory
    let configText: String
    private(set) var assembly: BridgeAssembly?
    private var running: Task<Void, Never>?
    var reconciler: Reconciler? { assembly?.reconciler }
    var metrics: BridgeMetrics? { assembly?.metrics }
    let poller: RuntimeClient

    var instancesPath: String { dir.file("instances.json") }
    var statePath: String { dir.file("state.json") }

    /// `backendsJSON` is the `backends` array; `extra` adds top-level keys (e.g. `"guard": {...}`).
    let factories: [any ProviderFactory]

    init(haproxy: HAProxyInstance, backendsJSON: String, extra: String = "", fileProvider: String = "",
         providersJSON: String? = nil, factories: [any ProviderFactory] = [FileProviderFactory()], resyncInterval: String = "10s",
         haproxyExtra: String = "") throws {
        self.factories = factories
        self.haproxy = haproxy
        dir = try TemporaryDirectory(prefix: "db-bridge")
        configText = """
        {
          "haproxy": { "runtime_api": "unix:\(haproxy.socketPath)", "timeout_ms": 2000, "resync_interval": "\(resyncInterval)",
                       "drain_check_interval": "50ms", "restart_check_interval": "200ms"\(haproxyExtra.isEmpty ? "" : ", \(haproxyExtra)") },
          "state_file": "\(dir.file("state.json"))",
          "providers": \(providersJSON ?? "{ \"file\": { \"path\": \"instances.json\"\(fileProvider) } }"),
          "backends": \(backendsJSON)\(extra.isEmpty ? "" : ",\n  \(extra)")
        }
        """
        try dir.write("config.json", configText)
        poller = RuntimeClient(endpoint: haproxy.endpoint, timeout: .seconds(2))
    }

    /// Writes the instances file atomically (temp + rename). `instances`: service → [(id, address, port, weight?)].
    func writeInstances(_ services: [String: [(id: String, port: Int, weight: Int?)]], address: String = "127.0.0.1") throws {
        var parts: [String] = []
        for (service, list) in services.sorted(by: { $0.key < $1.key }) {
            let items = list.map { i in
                "{\"id\": \"\(i.id)\", \"address\": \"\(address)\", \"port\": \(i.port)\(i.weight.map { ", \"weight\": \($0)" } ?? "")}"
            }
            parts.append("\"\(service)\": [\(items.joined(separator: ", "))]")
        }
        try writeRaw("{\"services\": {\(parts.joined(separator: ", "))}}")
    }

    func writeRaw(_ text: String) throws {
        try text.write(toFile: instancesPath + ".tmp", atomically: false, encoding: .utf8)
        guard rename(instancesPath + ".tmp", instancesPath) == 0 else { throw TestSupportError("rename failed") }
    }

    /// Starts the bridge in this process.
    func start() throws {
        let assembly = try BridgeAssembly(configPath: dir.file("config.json"), factories: factories, logger: Logger(label: "bridge-test"), options: .inProcess)
        self.assembly = assembly
        running = Task { try? await assembly.run() }
    }

    /// Stops the bridge the way SIGTERM does: providers first, then the reconciler finishes and writes its state.
    func stop() async {
        await assembly?.shutdown()
        await running?.value
        running = nil
        assembly = nil
    }

    /// HAProxy's servers of `backend` now, by name.
    func servers(_ backend: String) async throws -> [String: ServerStateRow] {
        let rows = try await poller.showServersState(backend: backend)
        var out: [String: ServerStateRow] = [:]
        for r in rows { out[r.server] = r }
        return out
    }

    /// Server name → "addr:port" of servers taking traffic (admin bits 0x3B clear).
    func ready(_ backend: String) async throws -> [String: String] {
        var out: [String: String] = [:]
        for (name, row) in try await servers(backend) where row.adminState & 0x3B == 0 {
            out[name] = "\(row.address):\(row.port)"
        }
        return out
    }

    func cleanup() async {
        await stop()
        poller.close()
        dir.remove()
    }
}

/// "backend-N" names seen in `count` requests through a frontend.
func backendsServing(port: Int, requests: Int = 12) async throws -> Set<String> {
    var seen = Set<String>()
    for _ in 0..<requests {
        let r = try await httpGet("http://127.0.0.1:\(port)/")
        if r.status == 200, let name = r.body.split(separator: " ").dropFirst(2).first { seen.insert(String(name)) }
    }
    return seen
}
