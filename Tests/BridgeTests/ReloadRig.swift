import Bridge
import DiscoveryCore
import Foundation
import HAProxyRuntime
import TestSupport
import XCTest

/// A master-worker HAProxy loading haproxy.cfg (frontend only) plus the bridge's managed file (`-f` twice, as the
/// README's drop-in does), real HTTP backends, and the in-process bridge writing that file.
final class ReloadRig: @unchecked Sendable {
    let dir: TemporaryDirectory
    let haproxy: HAProxyInstance
    let harness: BridgeHarness
    let http: HTTPBackends
    let managedPath: String
    var frontend: Int { haproxy.frontendPorts["web"] ?? 0 }

    static func backendsJSON(slots: Int) -> String {
        """
        [{ "name": "web", "slots": \(slots), "server_prefix": "slot", "port": 8080, "server_options": "check inter 2s",
           "sources": [{ "provider": "file", "service": "web" }], "drain_timeout": "30s",
           "growth": { "mode": "add_server", "increment": 2, "max_slots": 12 } }]
        """
    }

    /// `check`: run `haproxy -c` on every candidate; `masterCLI`: the bridge watches `-S` (else it probes the stats socket).
    init(slots: Int = 4, backends: Int = 7, check: Bool = true, masterCLI: Bool = true, managedDir: String? = nil) async throws {
        dir = try TemporaryDirectory(prefix: "db-managed")
        let managed = managedDir.map { "\($0)/managed.cfg" } ?? dir.file("managed.cfg")
        managedPath = managed
        // First install, as the README says: `render` writes the file before HAProxy is started with it.
        try dir.write("pre.json", """
        { "haproxy": { "runtime_api": "unix:\(dir.file("none.sock"))", "managed_config": "\(managed)" },
          "state_file": "\(dir.file("none-state.json"))", "providers": { "file": { "path": "none.json" } },
          "backends": \(Self.backendsJSON(slots: slots)) }
        """)
        let rendered = try await runCommand(bridgeExecutable, ["render", "--config", dir.file("pre.json")])
        guard rendered.status == 0 else { throw TestSupportError("render failed: \(rendered.stderr)") }
        try rendered.stdout.write(toFile: managed, atomically: true, encoding: .utf8)
        http = try await HTTPBackends(count: backends)
        haproxy = try await HAProxyInstance(backends: [.init(name: "web", slots: slots)], backendsConfig: "", extraGlobal: "    log stdout format raw local0",
                                            extraDefaults: "    log global\n    option httplog", masterWorker: true,
                                            extraConfigFiles: [managed])
        var extra = "\"managed_config\": \"\(managed)\""
        if check { extra += ", \"check_command\": [\"haproxy\", \"-c\", \"-f\", \"\(haproxy.configPath)\", \"-f\", \"{file}\"]" }
        if masterCLI { extra += ", \"master_cli\": \"unix:\(haproxy.masterSocketPath)\"" }
        harness = try BridgeHarness(haproxy: haproxy, backendsJSON: Self.backendsJSON(slots: slots),
                                    extra: #""guard": {"max_removed_fraction": 1.0, "min_servers": 0}"#, haproxyExtra: extra)
    }

    /// HAProxy's log lines (`option httplog`) of requests answered with a 5xx: which worker, server and termination state.
    func failedRequestLog() -> [String] {
        let log = (try? String(contentsOfFile: haproxy.directory.file("haproxy.log"), encoding: .utf8)) ?? ""
        return log.split(separator: "\n").filter { $0.contains(" 50") && $0.contains("fe_web") }.map(String.init)
    }

    func cleanup() async {
        await harness.cleanup()
        haproxy.cleanup()
        http.stop()
        dir.remove()
    }

    /// Instances as the test holds them: id → (port, weight).
    func write(_ instances: [String: (port: Int, weight: Int)]) throws {
        try harness.writeInstances(["web": instances.sorted { $0.key < $1.key }.map { ($0.key, $0.value.port, $0.value.weight) }])
    }

    /// Waits until HAProxy serves exactly `instances` (ready endpoints with their weights) and the table says so.
    func waitApplied(_ instances: [String: (port: Int, weight: Int)], timeout: Duration = .seconds(10)) async throws {
        let want = Set(instances.values.map { "127.0.0.1:\($0.port) w\($0.weight)" })
        try await eventually("HAProxy serving \(want.sorted())", timeout: timeout, every: .milliseconds(10)) {
            let rows = try await self.servers()
            let ready = Set(rows.values.filter { AdminState(adminBits: $0.adminState) == .ready }.map { "\($0.address):\($0.port) w\($0.userWeight)" })
            // The table too: HAProxy can show the wanted servers before the bridge applied them (a reload from a file a
            // batch behind can bring back a removed instance's server when a new one reuses its port and weight).
            let table = await self.harness.reconciler?.slotTables()["web"]?.slots ?? []
            let active = Set(table.filter { $0.state == .active }.map { "\($0.endpoint ?? "-") w\($0.weight)" })
            return ready == want && active == want && Self.mismatches(table, rows, fromFile: false).isEmpty
        }
    }

    /// Servers as the current worker has them: a new connection each time (an open one keeps reaching the old
    /// worker after a reload), and only an answer from the worker `currentWorkerPID` reports counts.
    func servers() async throws -> [String: ServerStateRow] {
        var result: [String: ServerStateRow]?
        try await eventually("an answer from the current worker", timeout: .seconds(5), every: .milliseconds(2)) {
            let pid = try await self.haproxy.currentWorkerPID()
            let client = RuntimeClient(endpoint: self.haproxy.endpoint, timeout: .seconds(2))
            defer { client.close() }
            let answers = try await client.raw(["show info", "show servers state web"])
            guard answers.count == 2, try RuntimeParsers.info(answers[0]).pid == pid else { return false }
            result = Dictionary(try RuntimeParsers.serversState(answers[1]).map { ($0.server, $0) }, uniquingKeysWith: { a, _ in a })
            return true
        }
        return result ?? [:]
    }

    /// The managed file the bridge would write for its current table.
    func expectedFile() async -> String? {
        guard let reconciler = harness.reconciler else { return nil }
        return ManagedConfigRenderer.render(await reconciler.config, tables: await reconciler.slotTables())
    }

    func waitFileCurrent(timeout: Duration = .seconds(10)) async throws {
        try await eventually("the managed file to match the slot table", timeout: timeout, every: .milliseconds(10)) {
            guard let want = await self.expectedFile() else { return false }
            return (try? String(contentsOfFile: self.managedPath, encoding: .utf8)) == want
        }
    }

    /// Differences between HAProxy's servers and the table. `fromFile`: what a config alone can carry (a draining
    /// slot is `disabled`, so maint or drain both count as right); otherwise draining must be `drain` exactly.
    static func mismatches(_ table: [Slot], _ rows: [String: ServerStateRow], fromFile: Bool) -> [String] {
        var problems: [String] = []
        for slot in table {
            guard let row = rows[slot.server] else {
                problems.append("\(slot.server) missing")
                continue
            }
            let admin = AdminState(adminBits: row.adminState)
            let at = "\(row.address):\(row.port)"
            switch slot.state {
            case .active:
                if at != slot.endpoint || row.userWeight != slot.weight || admin != .ready {
                    problems.append("\(slot.server): want ready \(slot.endpoint ?? "-") w\(slot.weight), have \(admin) \(at) w\(row.userWeight)")
                }
            case .draining:
                if at != slot.endpoint || admin == .ready || (!fromFile && admin != .drain) {
                    problems.append("\(slot.server): want drain \(slot.endpoint ?? "-"), have \(admin) \(at)")
                }
            case .free:
                if admin != .maint { problems.append("\(slot.server): want maint, have \(admin) \(at)") }
            }
        }
        return problems
    }
}
