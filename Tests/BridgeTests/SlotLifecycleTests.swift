import Bridge
import DiscoveryCore
import Foundation
import HAProxyRuntime
import StateStore
import TestSupport
import XCTest

/// The spine, end to end: instances file → file provider → reconciler → a real HAProxy 2.6, checked through
/// `show servers state` and real HTTP traffic.
final class SlotLifecycleTests: XCTestCase {
    var haproxy: HAProxyInstance?
    var harness: BridgeHarness?
    var http: HTTPBackends?

    override func tearDown() async throws {
        await harness?.cleanup()
        haproxy?.cleanup()
        http?.stop()
    }

    func setUpBridge(slots: Int = 4, growth: String = #"{"mode": "none"}"#, drainTimeout: String = "30s", extra: String = #""guard": {"max_removed_fraction": 1.0, "min_servers": 0}"#, backends: Int = 3) async throws -> (BridgeHarness, [Int]) {
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: slots)])
        haproxy = h
        let b = try await HTTPBackends(count: backends)
        http = b
        let harness = try BridgeHarness(haproxy: h, backendsJSON: """
        [{ "name": "web", "slots": \(slots), "server_prefix": "slot", "port": 8080, "server_options": "",
           "sources": [{ "provider": "file", "service": "web" }], "health": "passing", "drain_timeout": "\(drainTimeout)",
           "growth": \(growth) }]
        """, extra: extra)
        self.harness = harness
        return (harness, b.ports)
    }

    func test_new_instances_take_the_lowest_free_slots_and_serve_traffic() async throws {
        let (bridge, ports) = try await setUpBridge()
        try bridge.writeInstances(["web": [("web-1", ports[0], nil), ("web-2", ports[1], nil)]])
        try bridge.start()
        try await eventually("two slots ready") { try await bridge.ready("web").count == 2 }
        let ready = try await bridge.ready("web")
        XCTAssertEqual(ready, ["slot1": "127.0.0.1:\(ports[0])", "slot2": "127.0.0.1:\(ports[1])"])
        let port = try XCTUnwrap(haproxy?.frontendPorts["web"])
        let serving = try await backendsServing(port: port)
        XCTAssertEqual(serving, ["backend-1", "backend-2"])
    }

    func test_file_change_reaches_haproxy_within_milliseconds() async throws {
        let (bridge, ports) = try await setUpBridge(slots: 4)
        try bridge.writeInstances(["web": [("web-1", ports[0], nil)]])
        try bridge.start()
        try await eventually("first slot ready") { try await bridge.ready("web").count == 1 }
        var latencies: [Double] = []
        for i in 0..<40 {
            let weight = 10 + i
            let start = ContinuousClock.now
            try bridge.writeInstances(["web": [("web-1", ports[0], weight)]])
            try await eventually("weight \(weight) applied", every: .microseconds(500)) {
                try await bridge.servers("web")["slot1"]?.userWeight == weight
            }
            latencies.append((ContinuousClock.now - start).seconds * 1000)
        }
        latencies.sort()
        print(String(format: "figure: file change -> HAProxy state (debug build, %d changes): median %.2f ms, p90 %.2f ms, max %.2f ms",
                     latencies.count, latencies[latencies.count / 2], latencies[latencies.count * 9 / 10], latencies.last ?? 0))
    }

    func test_the_reconciler_runs_on_the_runtime_clients_own_thread() throws {
        let client = RuntimeClient(endpoint: .unix(path: "/nonexistent/api.sock"))
        let control: any HAProxyControl = client
        XCTAssertTrue(control.runtimeThread === client.laneThread, "the real client offers its lane thread to the reconciler")
    }

    func test_status_and_metrics_answer_while_a_batch_waits_for_a_frozen_haproxy() async throws {
        let (bridge, ports) = try await setUpBridge()
        try bridge.writeInstances(["web": [("web-1", ports[0], nil)]])
        try bridge.start()
        try await eventually("first slot ready") { try await bridge.ready("web").count == 1 }
        let reconciler = try XCTUnwrap(bridge.reconciler)
        let pid = try XCTUnwrap(haproxy?.pid)
        // HAProxy stops answering (SIGSTOP: its socket still accepts); the next change's batch waits on it.
        kill(pid, SIGSTOP)
        var frozen = true
        defer { if frozen { kill(pid, SIGCONT) } }
        try bridge.writeInstances(["web": [("web-1", ports[0], nil), ("web-2", ports[1], nil)]])
        try await eventually("the batch waits for HAProxy") { reconciler.isWaitingForHAProxy }
        let view = await reconciler.view()
        XCTAssertTrue(reconciler.isWaitingForHAProxy, "the view came while a batch waited")
        XCTAssertNil(view.lastError, "and before that batch timed out (timeout_ms 2000): it did not wait for HAProxy")
        XCTAssertEqual(view.tables["web"]?.slots.filter { $0.instanceID != nil }.count, 1, "the table as it stands until HAProxy answers")
        XCTAssertTrue(view.isReady)
        kill(pid, SIGCONT)
        frozen = false
        try await eventually("the change applied once HAProxy answers", timeout: .seconds(10)) { try await bridge.ready("web").count == 2 }
    }

    func test_a_weight_change_only_sets_the_weight() async throws {
        let (bridge, ports) = try await setUpBridge()
        try bridge.writeInstances(["web": [("web-1", ports[0], 10)]])
        try bridge.start()
        try await eventually("weight 10") { try await bridge.servers("web")["slot1"]?.userWeight == 10 }
        // HAProxy has it before the reconciler has counted the batch: wait for the table, which is updated last.
        try await eventually("table updated") { await bridge.reconciler?.slotTables()["web"]?.slots.first?.weight == 10 }
        let sentBefore = bridge.metrics?.total(.runtimeCommands) ?? 0
        try bridge.writeInstances(["web": [("web-1", ports[0], 200)]])
        try await eventually("weight 200") { try await bridge.servers("web")["slot1"]?.userWeight == 200 }
        // Commands are counted once the batch's answers are taken, a moment after HAProxy applied them.
        try await eventually("the batch counted") { (bridge.metrics?.total(.runtimeCommands) ?? 0) > sentBefore }
        try await Task.sleep(for: .milliseconds(50))
        let sentAfter = bridge.metrics?.total(.runtimeCommands) ?? 0
        XCTAssertEqual(sentAfter - sentBefore, 1, "a weight change is one `set weight` command")
        let ready = try await bridge.ready("web")
        XCTAssertEqual(ready["slot1"], "127.0.0.1:\(ports[0])")
    }

    func test_a_removed_instance_drains_then_goes_to_maint_and_only_then_frees_its_slot() async throws {
        let (bridge, ports) = try await setUpBridge(slots: 2, drainTimeout: "30s")
        try bridge.writeInstances(["web": [("web-1", ports[0], nil), ("web-2", ports[1], nil)]])
        try bridge.start()
        try await eventually("two ready") { try await bridge.ready("web").count == 2 }
        let port = try XCTUnwrap(haproxy?.frontendPorts["web"])

        // A long request in flight on web-2's slot when web-2 disappears.
        var slowOnSlot2 = false
        var inflight: Task<(status: Int, body: String), Error>?
        for _ in 0..<4 where !slowOnSlot2 {
            let t = Task { try await httpGet("http://127.0.0.1:\(port)/slow/1.5", timeout: 10) }
            try await Task.sleep(for: .milliseconds(100))
            let sessions = try await bridge.poller.showSessions(backend: "web")
            if sessions["slot2"] == 1 { inflight = t; slowOnSlot2 = true } else { _ = try await t.value }
        }
        let request = try XCTUnwrap(inflight, "could not place a long request on slot2")
        try bridge.writeInstances(["web": [("web-1", ports[0], nil)]])
        try await eventually("slot2 draining") { (try await bridge.servers("web")["slot2"]?.adminState ?? 0) & 0x08 != 0 }
        try await eventually("table says draining") { await bridge.reconciler?.slotTables()["web"]?.slots.first { $0.server == "slot2" }?.state == .draining }

        // A new instance must not take the draining slot, and there is no other: it waits unslotted.
        try bridge.writeInstances(["web": [("web-1", ports[0], nil), ("web-3", ports[2], nil)]])
        try await Task.sleep(for: .milliseconds(300))
        let whileDraining = try await bridge.servers("web")["slot2"]
        XCTAssertNotEqual((whileDraining?.adminState ?? 0) & 0x08, 0, "still draining while the request runs")
        XCTAssertEqual(whileDraining?.port, ports[1])

        let answer = try await request.value
        XCTAssertEqual(answer.status, 200, "the in-flight request finished normally")
        XCTAssertTrue(answer.body.contains("backend-2"))
        // Sessions reached 0: maint, then the slot is free and web-3 takes it.
        try await eventually("web-3 on slot2", timeout: .seconds(5)) { try await bridge.ready("web")["slot2"] == "127.0.0.1:\(ports[2])" }
    }

    func test_drain_timeout_forces_maint_even_with_sessions() async throws {
        let (bridge, ports) = try await setUpBridge(slots: 2, drainTimeout: "300ms",
                                                    extra: #""guard": {"max_removed_fraction": 1.0, "min_servers": 0, "allow_empty": true, "confirm_after": "0s"}"#)
        try bridge.writeInstances(["web": [("web-1", ports[0], nil)]])
        try bridge.start()
        try await eventually("ready") { try await bridge.ready("web").count == 1 }
        let port = try XCTUnwrap(haproxy?.frontendPorts["web"])
        let request = Task { try await httpGet("http://127.0.0.1:\(port)/slow/3", timeout: 10) }
        try await eventually("session open") { try await bridge.poller.showSessions(backend: "web")["slot1"] == 1 }
        let removedAt = ContinuousClock.now
        try bridge.writeInstances(["web": []])
        do {
            try await eventually("slot1 in maint") { (try await bridge.servers("web")["slot1"]?.adminState ?? 0) & 0x01 != 0 }
        } catch {
            let table = await bridge.reconciler?.slotTables()["web"]
            let holds = await bridge.reconciler?.guardHolds() ?? [:]
            XCTFail("\(error): table \(table.map { "\($0.slots)" } ?? "none"), guard holds \(holds)")
            throw error
        }
        let elapsed = ContinuousClock.now - removedAt
        XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(250))
        XCTAssertLessThan(elapsed, .seconds(2))
        request.cancel()
    }

    func test_slots_grow_with_add_server_when_they_run_out() async throws {
        let (bridge, ports) = try await setUpBridge(slots: 2, growth: #"{"mode": "add_server", "increment": 2, "max_slots": 6}"#)
        try bridge.writeInstances(["web": [("a", ports[0], nil), ("b", ports[1], nil), ("c", ports[2], nil)]])
        try bridge.start()
        try await eventually("three ready") { try await bridge.ready("web").count == 3 }
        let servers = try await bridge.servers("web")
        XCTAssertNotNil(servers["slot3"])
        XCTAssertNotNil(servers["slot4"], "growth adds `increment` servers at once")
        let slot3 = try await bridge.ready("web")["slot3"]
        XCTAssertEqual(slot3, "127.0.0.1:\(ports[2])")
        let port = try XCTUnwrap(haproxy?.frontendPorts["web"])
        let serving = try await backendsServing(port: port)
        XCTAssertEqual(serving, ["backend-1", "backend-2", "backend-3"])
    }

    func test_a_bridge_restart_keeps_every_assignment() async throws {
        let (bridge, ports) = try await setUpBridge(slots: 4)
        try bridge.writeInstances(["web": [("a", ports[0], nil), ("b", ports[1], nil), ("c", ports[2], nil)]])
        try bridge.start()
        try await eventually("three ready") { try await bridge.ready("web").count == 3 }
        try bridge.writeInstances(["web": [("a", ports[0], nil), ("c", ports[2], nil)]])
        try await eventually("b draining or gone") { try await bridge.ready("web").count == 2 }
        let before = try await bridge.servers("web")
        await bridge.stop()
        let doc = try XCTUnwrap(try StateStore(path: bridge.statePath).load())
        XCTAssertEqual(doc.backends["web"]?.slots.filter { $0.state == .active }.compactMap(\.instanceID).sorted(), ["file/a", "file/c"])

        // The instances come back in another order; each keeps its slot and nothing is re-sent.
        try bridge.writeInstances(["web": [("c", ports[2], nil), ("a", ports[0], nil)]])
        try bridge.start()
        try await eventually("synced again") { await bridge.reconciler?.hasSynced == true }
        try await Task.sleep(for: .milliseconds(200))
        let after = try await bridge.servers("web")
        for name in ["slot1", "slot3"] {
            XCTAssertEqual(after[name]?.address, before[name]?.address)
            XCTAssertEqual(after[name]?.port, before[name]?.port)
            XCTAssertEqual(after[name]?.adminState, before[name]?.adminState)
        }
        let sent = bridge.metrics?.total(.runtimeCommands) ?? -1
        XCTAssertLessThanOrEqual(sent, 2, "a restart with nothing changed sends (almost) nothing; at most slot2's maint and its return to the placeholder")
    }

    func test_an_haproxy_restart_is_reapplied_including_added_servers() async throws {
        let (bridge, ports) = try await setUpBridge(slots: 2, growth: #"{"mode": "add_server", "increment": 1}"#)
        try bridge.writeInstances(["web": [("a", ports[0], 5), ("b", ports[1], nil), ("c", ports[2], nil)]])
        try bridge.start()
        try await eventually("three ready") { try await bridge.ready("web").count == 3 }
        let before = try await bridge.ready("web")
        let h = try XCTUnwrap(haproxy)
        let restartedAt = ContinuousClock.now
        try await h.restart()
        let answeringAt = ContinuousClock.now
        try await eventually("re-applied", timeout: .seconds(5), every: .milliseconds(10)) { try await bridge.ready("web") == before }
        let figure = ContinuousClock.now - answeringAt
        print("figure: slots re-applied \(figure) after the restarted HAProxy answered (restart took \(answeringAt - restartedAt))")
        XCTAssertLessThan(figure, .seconds(2))
        let weight = try await bridge.servers("web")["slot1"]?.userWeight
        XCTAssertEqual(weight, 5)
        let restarts = bridge.metrics?.total(.haproxyRestarts) ?? 0
        XCTAssertGreaterThanOrEqual(restarts, 1)
    }

    func test_an_haproxy_reload_in_master_worker_mode_is_reapplied() async throws {
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 3)], masterWorker: true)
        haproxy = h
        let b = try await HTTPBackends(count: 2)
        http = b
        let bridge = try BridgeHarness(haproxy: h, backendsJSON: """
        [{ "name": "web", "slots": 3, "port": 8080, "server_options": "", "sources": [{ "provider": "file", "service": "web" }] }]
        """)
        harness = bridge
        try bridge.writeInstances(["web": [("a", b.ports[0], 7), ("b", b.ports[1], nil)]])
        try bridge.start()
        try await eventually("two ready") { try await bridge.ready("web").count == 2 }
        let before = try await bridge.ready("web")
        try await h.reload()
        let reloadedAt = ContinuousClock.now
        // Check through a new connection: that is what reaches the new worker.
        try await eventually("re-applied to the new worker", timeout: .seconds(5), every: .milliseconds(10)) {
            try await h.readyEndpoints("web") == Set(before.values)
        }
        print("figure: slots re-applied \(ContinuousClock.now - reloadedAt) after a master-worker reload")
        let port = try XCTUnwrap(h.frontendPorts["web"])
        let serving = try await backendsServing(port: port)
        XCTAssertEqual(serving, ["backend-1", "backend-2"])
    }

    func test_drift_made_by_hand_is_repaired_at_the_next_resync_and_no_drift_costs_no_commands() async throws {
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 3)])
        haproxy = h
        let bridge = try BridgeHarness(haproxy: h, backendsJSON: """
        [{ "name": "web", "slots": 3, "port": 8080, "server_options": "", "sources": [{ "provider": "file", "service": "web" }] }]
        """, resyncInterval: "300ms")
        harness = bridge
        try bridge.writeInstances(["web": [("a", 18001, 5), ("b", 18002, nil)]])
        try bridge.start()
        try await eventually("two ready") { try await bridge.ready("web").count == 2 }
        try await eventually("table updated") { await bridge.reconciler?.slotTables()["web"]?.counts.active == 2 }
        let quiet = bridge.metrics?.total(.runtimeCommands) ?? 0
        try await Task.sleep(for: .milliseconds(1000))
        let afterQuiet = bridge.metrics?.total(.runtimeCommands) ?? 0
        XCTAssertEqual(afterQuiet, quiet, "resyncs that find no drift send nothing")
        // An operator (or a stray script) changes slots behind the bridge's back.
        let outcomes = try await bridge.poller.execute(["set server web/slot1 state maint", "set weight web/slot2 77", "set server web/slot3 addr 10.9.9.9 port 1", "set server web/slot3 state ready"])
        XCTAssertTrue(outcomes.allSatisfy(\.succeeded))
        try await eventually("drift repaired", timeout: .seconds(3)) {
            let s = try await bridge.servers("web")
            return (s["slot1"]?.adminState ?? 1) & 0x3B == 0 && s["slot1"]?.userWeight == 5 && s["slot2"]?.userWeight == 1
                && (s["slot3"]?.adminState ?? 0) & 0x01 != 0
        }
    }

    func test_a_malformed_instances_file_changes_nothing() async throws {
        let (bridge, ports) = try await setUpBridge()
        try bridge.writeInstances(["web": [("a", ports[0], nil), ("b", ports[1], nil)]])
        try bridge.start()
        try await eventually("two ready") { try await bridge.ready("web").count == 2 }
        let before = try await bridge.servers("web")
        for bad in [#"{"services": {"web": [{"id": "a", "address": "not-an-ip"}]}}"#, #"{"services": "#, #"{"servics": {}}"#, ""] {
            try bridge.writeRaw(bad)
            try await Task.sleep(for: .milliseconds(150))
            let now = try await bridge.servers("web")
            XCTAssertEqual(now.mapValues { "\($0.address):\($0.port):\($0.adminState)" }, before.mapValues { "\($0.address):\($0.port):\($0.adminState)" }, bad)
        }
    }

    func test_haproxy_down_at_start_is_retried_and_then_applied() async throws {
        let (bridge, ports) = try await setUpBridge()
        let h = try XCTUnwrap(haproxy)
        h.stop()
        try bridge.writeInstances(["web": [("a", ports[0], nil)]])
        try bridge.start()
        try await Task.sleep(for: .milliseconds(400))
        let lastError = await bridge.reconciler?.lastError
        XCTAssertNotNil(lastError, "the failure is visible")
        try await h.start()
        try await eventually("applied once HAProxy is up", timeout: .seconds(10)) { try await bridge.ready("web").count == 1 }
    }

    func test_a_corrupt_state_file_is_set_aside_and_slots_are_adopted_from_haproxy() async throws {
        let (bridge, ports) = try await setUpBridge()
        try bridge.writeInstances(["web": [("a", ports[0], nil), ("b", ports[1], nil)]])
        try bridge.start()
        try await eventually("two ready") { try await bridge.ready("web").count == 2 }
        let before = try await bridge.ready("web")
        await bridge.stop()
        try "{ this is not json".write(toFile: bridge.statePath, atomically: true, encoding: .utf8)
        try bridge.start()
        try await eventually("synced") { await bridge.reconciler?.hasSynced == true }
        try await Task.sleep(for: .milliseconds(100))
        let after = try await bridge.ready("web")
        XCTAssertEqual(after, before, "adoption by endpoint keeps every slot")
        let files = try FileManager.default.contentsOfDirectory(atPath: bridge.dir.path)
        XCTAssertTrue(files.contains { $0.hasPrefix("state.json.corrupt-") }, "\(files)")
    }
}
