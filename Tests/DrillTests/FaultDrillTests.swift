import Bridge
import ConsulProvider
import DiscoveryCore
import FileProvider
import Foundation
import HAProxyRuntime
import Logging
import StateStore
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// An in-process bridge for the drills, built by the same composition root as `run`.
final class DrillBridge: @unchecked Sendable {
    let assembly: BridgeAssembly
    private let running: Task<Void, Never>
    var reconciler: Reconciler { assembly.reconciler }
    var metrics: BridgeMetrics { assembly.metrics }
    var health: ProviderHealth { assembly.providers.health }

    init(configPath: String, factories: [any ProviderFactory]) throws {
        let assembly = try BridgeAssembly(configPath: configPath, factories: factories, logger: Logger(label: "drill"), options: .inProcess)
        self.assembly = assembly
        running = Task { try? await assembly.run() }
    }

    func stop() async {
        await assembly.shutdown()
        await running.value
    }
}

final class FaultDrillTests: XCTestCase {
    /// Drill 2: HAProxy restarted, and reloaded in master-worker mode, in the middle of a stream of changes.
    func test_drill_haproxy_restarted_and_reloaded_mid_stream_is_reapplied_within_2s() async throws {
        let rounds = Drill.scale(ci: 3, full: 10)
        let dir = try TemporaryDirectory(prefix: "db-drill-hap")
        defer { dir.remove() }
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 40)], withFrontends: false, masterWorker: true)
        defer { h.cleanup() }
        try """
        {
          "haproxy": { "runtime_api": "unix:\(h.socketPath)", "restart_check_interval": "200ms", "resync_interval": "2s" },
          "state_file": "\(dir.file("state.json"))",
          "providers": { "file": { "path": "\(dir.file("instances.json"))" } },
          "guard": { "max_removed_fraction": 1.0, "min_servers": 0 },
          "backends": [{ "name": "web", "slots": 20, "port": 8080, "server_options": "", "drain_timeout": "100ms",
                         "growth": { "mode": "add_server", "increment": 5 },
                         "sources": [{ "provider": "file", "service": "web" }] }]
        }
        """.write(toFile: dir.file("config.json"), atomically: true, encoding: .utf8)
        func write(_ n: Int, generation: Int) throws {
            // More instances than template slots, so runtime-added servers must be re-added too.
            let items = (0..<n).map { #"{"id": "i\#($0)", "address": "10.1.\#(generation % 200).\#($0 + 1)", "port": 80, "weight": \#(1 + $0 % 5)}"# }
            try #"{"services": {"web": [\#(items.joined(separator: ","))]}}"#.write(toFile: dir.file("i.tmp"), atomically: false, encoding: .utf8)
            rename(dir.file("i.tmp"), dir.file("instances.json"))
        }
        try write(24, generation: 0)
        let bridge = try DrillBridge(configPath: dir.file("config.json"), factories: [FileProviderFactory()])
        var worst: Duration = .zero
        var figures: [String] = []
        for round in 0..<rounds {
            // A stream of changes keeps flowing while HAProxy goes away and comes back.
            let stream = Task {
                for g in 1...40 {
                    try? write(24, generation: round * 100 + g)
                    try? await Task.sleep(for: .milliseconds(10))
                }
            }
            try await Task.sleep(for: .milliseconds(100))
            if round % 2 == 0 { try await h.restart() } else { try await h.reload() }
            let answering = ContinuousClock.now
            await stream.value
            let truth = Set((0..<24).map { "10.1.\((round * 100 + 40) % 200).\($0 + 1):80" })
            do {
                try await eventually("round \(round): all slots re-applied", timeout: .seconds(5), every: .milliseconds(5)) {
                    try await h.readyEndpoints("web") == truth
                }
            } catch {
                let rows = try await h.servers("web").values.sorted { $0.serverID < $1.serverID }.map { "\($0.server)=\($0.address):\($0.port)/\($0.adminState)" }
                let table = await bridge.reconciler.slotTables()["web"]?.slots.map { "\($0.server)=\($0.state.rawValue):\($0.endpoint ?? "-")" } ?? []
                XCTFail("\(error)\nHAProxy: \(rows)\ntable: \(table)\nlast error: \(await bridge.reconciler.lastError ?? "none")")
                throw error
            }
            // The stream itself takes ~400 ms after HAProxy answers; what counts is the time past the last change.
            let elapsed = ContinuousClock.now - answering
            worst = max(worst, elapsed)
            figures.append("\(round % 2 == 0 ? "restart" : "reload"):\(Int(elapsed.seconds * 1000))ms")
            XCTAssertLessThan(elapsed, .seconds(2), "round \(round)")
        }
        await bridge.stop()
        Drill.report("haproxy-restarted", [("rounds", "\(rounds)"), ("worst_reapply_after_answering", "\(Int(worst.seconds * 1000))ms"), ("each", figures.joined(separator: ","))])
    }

    /// Drills 3 and 4: a Consul outage (refused, hanging, 500s, a restored snapshot with a lower index), and a
    /// freshly restarted agent answering `[]`: nothing is removed, and the bridge converges within 1 s after.
    func test_drill_consul_outage_removes_nothing_and_converges_within_1s() async throws {
        let phase = Duration.milliseconds(Int64(Drill.scale(ci: 1500, full: 15000)))
        let consul = try ConsulFake()
        defer { consul.stop() }
        let dir = try TemporaryDirectory(prefix: "db-drill-consul")
        defer { dir.remove() }
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 10)], withFrontends: false)
        defer { h.cleanup() }
        for i in 1...6 { try await consul.register("web", id: "w\(i)", node: "n\(i)", nodeAddress: "10.2.0.\(i)", port: 80) }
        try """
        {
          "haproxy": { "runtime_api": "unix:\(h.socketPath)" },
          "state_file": "\(dir.file("state.json"))",
          "providers": { "consul": { "address": "\(consul.address)", "wait": "2s", "min_request_interval": "10ms" } },
          "guard": { "max_removed_fraction": 0.5, "min_servers": 1, "confirm_after": "5m" },
          "backends": [{ "name": "web", "slots": 10, "port": 80, "server_options": "", "sources": [{ "provider": "consul", "service": "web" }] }]
        }
        """.write(toFile: dir.file("config.json"), atomically: true, encoding: .utf8)
        let bridge = try DrillBridge(configPath: dir.file("config.json"), factories: [ConsulProviderFactory()])
        try await eventually("six ready", timeout: .seconds(10)) { try await h.readyEndpoints("web").count == 6 }

        // Watch HAProxy during the whole outage: the fewest ready servers ever seen.
        let watching = Task { () -> Int in
            var fewest = Int.max
            let client = RuntimeClient(endpoint: h.endpoint)
            defer { client.close() }
            while !Task.isCancelled {
                if let rows = try? await client.showServersState(backend: "web") {
                    fewest = min(fewest, rows.filter { $0.adminState & 0x3B == 0 }.count)
                }
                try? await Task.sleep(for: .milliseconds(5))
            }
            return fewest
        }
        try await consul.control("refuse", ["seconds": .double(phase.seconds)])
        try await Task.sleep(for: phase + .milliseconds(300))
        try await consul.control("hang", ["enabled": .bool(true)])
        try await Task.sleep(for: phase)
        try await consul.control("hang", ["enabled": .bool(false)])
        try await consul.control("fail", ["count": .int(Int64(Drill.scale(ci: 2, full: 15))), "status": .int(500), "body": .string("No cluster leader")])
        try await Task.sleep(for: phase)
        try await consul.control("reset_index")
        try await consul.control("empty", ["enabled": .bool(true)])
        try await eventually("the empty answer is held by the guard", timeout: .seconds(10)) { await bridge.reconciler.guardHolds()["web"] != nil }
        try await Task.sleep(for: phase)
        // The catalog is back, with one real change made meanwhile: it must be applied within 1 s.
        try await consul.control("empty", ["enabled": .bool(false)])
        try await consul.control("deregister", ["service": .string("web"), "id": .string("w6"), "node": .string("n6")])
        watching.cancel()
        let fewest = await watching.value
        let back = ContinuousClock.now
        try await eventually("converged after the outage", timeout: .seconds(10), every: .milliseconds(5)) {
            let ready = try await h.readyEndpoints("web")
            return ready.count == 5 && !ready.contains("10.2.0.6:80")
        }
        let converge = ContinuousClock.now - back
        XCTAssertEqual(fewest, 6, "no server may be removed during the outage")
        XCTAssertLessThan(converge, .seconds(1), "converged \(converge) after the outage")
        await bridge.stop()
        Drill.report("consul-outage", [("phase", "\(phase)"), ("fewest_ready_during_outage", "\(fewest)/6"), ("converged_after", "\(Int(converge.seconds * 1000))ms")])
    }

    /// Drill 6: the state folder becomes unwritable (a file where the folder was: every write fails): the bridge keeps
    /// serving from memory, says so loudly in logs and metrics, and recovers when the folder is back.
    func test_drill_unwritable_state_folder_keeps_serving_and_recovers() async throws {
        let dir = try TemporaryDirectory(prefix: "db-drill-disk")
        defer { dir.remove() }
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 5)], withFrontends: false)
        defer { h.cleanup() }
        let stateDir = dir.file("state")
        try """
        {
          "haproxy": { "runtime_api": "unix:\(h.socketPath)" },
          "state_file": "\(stateDir)/state.json",
          "providers": { "file": { "path": "\(dir.file("instances.json"))" } },
          "guard": { "max_removed_fraction": 1.0, "min_servers": 0 },
          "backends": [{ "name": "web", "slots": 5, "port": 80, "server_options": "", "sources": [{ "provider": "file", "service": "web" }] }]
        }
        """.write(toFile: dir.file("config.json"), atomically: true, encoding: .utf8)
        func write(_ n: Int) throws {
            let items = (1...n).map { #"{"id": "i\#($0)", "address": "10.3.0.\#($0)", "port": 80}"# }
            try #"{"services": {"web": [\#(items.joined(separator: ","))]}}"#.write(toFile: dir.file("i.tmp"), atomically: false, encoding: .utf8)
            rename(dir.file("i.tmp"), dir.file("instances.json"))
        }
        try write(2)
        let bridge = try DrillBridge(configPath: dir.file("config.json"), factories: [FileProviderFactory()])
        try await eventually("two ready") { try await h.readyEndpoints("web").count == 2 }
        try await eventually("state written") { FileManager.default.fileExists(atPath: "\(stateDir)/state.json") }

        try FileManager.default.moveItem(atPath: stateDir, toPath: dir.file("state.saved"))
        try "not a folder".write(toFile: stateDir, atomically: false, encoding: .utf8)
        try write(3)
        try await eventually("still serving changes") { try await h.readyEndpoints("web").count == 3 }
        try await eventually("failure visible") { bridge.reconciler.stateWriteFailing }
        bridge.metrics.refresh(view: await bridge.reconciler.view(), health: bridge.health, stateWriteFailing: bridge.reconciler.stateWriteFailing)
        let metricsText = String(decoding: bridge.metrics.render(), as: UTF8.self)
        XCTAssertTrue(metricsText.contains("discovery_bridge_state_write_failing 1"), metricsText)
        try write(4)
        try await eventually("serving from memory") { try await h.readyEndpoints("web").count == 4 }

        try FileManager.default.removeItem(atPath: stateDir)
        try FileManager.default.moveItem(atPath: dir.file("state.saved"), toPath: stateDir)
        let recoveredFrom = ContinuousClock.now
        try await eventually("recovered", timeout: .seconds(40)) { !bridge.reconciler.stateWriteFailing }
        let doc = try XCTUnwrap(try StateStore(path: "\(stateDir)/state.json").load())
        XCTAssertEqual(doc.backends["web"]?.slots.filter { $0.state == .active }.count, 4, "the newest table is written once the folder is back")
        let failures = bridge.metrics.total(.stateWriteFailures)
        await bridge.stop()
        Drill.report("state-folder-unwritable", [("write_failures", "\(failures)"), ("recovered_after", "\(Int((ContinuousClock.now - recoveredFrom).seconds * 1000))ms"), ("served_changes_meanwhile", "2")])
    }
}
