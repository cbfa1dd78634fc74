import DiscoveryCore
import Foundation
import StateStore
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Drill 1: the bridge is SIGKILLed at random moments during a stream of random provider updates.
/// The state file must always parse, and after a restart HAProxy converges to the truth with no slot holding two instances.
final class KillDrillTests: XCTestCase {
    func test_drill_bridge_killed_at_random_moments_never_corrupts_state_or_doubles_a_slot() async throws {
        let updates = Drill.scale(ci: 150, full: 1000)
        let kills = Drill.scale(ci: 15, full: 110)
        var (rng, seed) = SplitMix64.seeded()
        let dir = try TemporaryDirectory(prefix: "db-drill-kill")
        defer { dir.remove() }
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 16)], withFrontends: false)
        defer { h.cleanup() }
        try """
        {
          "haproxy": { "runtime_api": "unix:\(h.socketPath)", "drain_check_interval": "50ms", "restart_check_interval": "200ms" },
          "state_file": "\(dir.file("state.json"))",
          "providers": { "file": { "path": "\(dir.file("instances.json"))" } },
          "guard": { "max_removed_fraction": 1.0, "min_servers": 0, "allow_empty": true, "confirm_after": "0s" },
          "backends": [{ "name": "web", "slots": 16, "port": 8080, "server_options": "", "drain_timeout": "50ms",
                         "sources": [{ "provider": "file", "service": "web" }] }]
        }
        """.write(toFile: dir.file("config.json"), atomically: true, encoding: .utf8)

        // 24 candidate instances; at most 8 at a time, so drains never starve the 16 slots.
        func write(_ ids: [Int]) throws {
            let items = ids.map { #"{"id": "i\#($0)", "address": "10.0.\#($0 / 250).\#($0 % 250 + 1)", "port": \#(9000 + $0), "weight": \#(1 + $0 % 7)}"# }
            try #"{"services": {"web": [\#(items.joined(separator: ","))]}}"#.write(toFile: dir.file("i.tmp"), atomically: false, encoding: .utf8)
            rename(dir.file("i.tmp"), dir.file("instances.json"))
        }
        var current: [Int] = []
        try write(current)
        var bridge = try BridgeProcess(config: dir.file("config.json"), logPath: dir.file("bridge-0.log"), logLevel: "warning")
        var killed = 0
        var parsedAfterKill = 0
        let killEvery = max(1, updates / kills)
        for step in 0..<updates {
            current = Array((0..<24).shuffled(using: &rng).prefix(Int.random(in: 1...8, using: &rng))).sorted()
            try write(current)
            try await Task.sleep(for: .microseconds(Int64.random(in: 0...15_000, using: &rng)))
            if step % killEvery == killEvery - 1, killed < kills {
                bridge.child.signal(SIGKILL)
                _ = await bridge.child.waitForExit(timeout: .seconds(5))
                killed += 1
                do {
                    _ = try StateStore(path: dir.file("state.json")).load()
                    parsedAfterKill += 1
                } catch {
                    XCTFail("seed \(seed): state file unreadable after kill \(killed): \(error)")
                }
                bridge = try BridgeProcess(config: dir.file("config.json"), logPath: dir.file("bridge-\(killed).log"), logLevel: "warning")
            }
        }
        // The final run: a fresh bridge after one more kill, waited for until it tells systemd it is ready.
        bridge.child.signal(SIGKILL)
        _ = await bridge.child.waitForExit(timeout: .seconds(5))
        let notify = try NotifySocket(path: dir.file("notify.sock"))
        defer { notify.close() }
        bridge = try BridgeProcess(config: dir.file("config.json"), logPath: dir.file("bridge-final.log"), environment: ["NOTIFY_SOCKET": notify.path], logLevel: "warning")
        defer { bridge.stop() }
        try await eventually("final bridge ready", timeout: .seconds(10)) { notify.poll().contains { $0.contains("READY=1") } }
        let truth = Set(current.map { "10.0.\($0 / 250).\($0 % 250 + 1):\(9000 + $0)" })
        let convergeStart = ContinuousClock.now
        do {
            try await eventually("seed \(seed): HAProxy converges to the last answer", timeout: .seconds(10), every: .milliseconds(10)) {
                try await h.readyEndpoints("web") == truth
            }
        } catch {
            let ready = try await h.readyEndpoints("web")
            XCTFail("\(error): truth \(truth.sorted()), ready \(ready.sorted()); bridge log:\n\(bridge.log.suffix(3000))")
            throw error
        }
        let convergeTime = ContinuousClock.now - convergeStart
        // No slot holds two instances, no instance holds two slots: in HAProxy and in the table.
        let rows = try await h.servers("web").values.filter { $0.adminState & 0x3B == 0 }
        XCTAssertEqual(Set(rows.map { "\($0.address):\($0.port)" }).count, rows.count, "an endpoint is on two ready slots")
        bridge.child.signal(SIGTERM)
        let exit = await bridge.child.waitForExit(timeout: .seconds(10))
        XCTAssertEqual(exit, 0, "SIGTERM finishes cleanly")
        let doc = try XCTUnwrap(try StateStore(path: dir.file("state.json")).load())
        let active = doc.backends["web"]?.slots.filter { $0.state == .active }.compactMap(\.instanceID) ?? []
        XCTAssertEqual(Set(active).count, active.count, "an instance holds two slots in the state file")
        XCTAssertEqual(Set(active), Set(current.map { "file/i\($0)" }))
        XCTAssertEqual(killed, kills)
        Drill.report("bridge-killed", [("seed", "\(seed)"), ("updates", "\(updates)"), ("kills", "\(killed)"),
                                       ("state_parsed_after_kill", "\(parsedAfterKill)/\(killed)"), ("converged_after_ready", "\(convergeTime)")])
    }
}
