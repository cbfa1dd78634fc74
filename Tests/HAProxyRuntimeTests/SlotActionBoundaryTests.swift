import HAProxyRuntime
import TestSupport
import XCTest

/// The typed boundary: every slot action renders to its exact Runtime API line, a batch answers with results that
/// carry their action, and an old worker's answer is a typed status, not a string to match.
final class SlotActionBoundaryTests: XCTestCase {
    var haproxy: HAProxyInstance?

    override func tearDown() async throws {
        haproxy?.cleanup()
        haproxy = nil
    }

    func test_each_action_renders_to_the_exact_runtime_api_line() {
        XCTAssertEqual(SlotAction.setAddress(backend: "b", server: "s1", address: "10.0.0.1", port: 80).line, "set server b/s1 addr 10.0.0.1 port 80")
        XCTAssertEqual(SlotAction.setAddress(backend: "b", server: "s1", address: "fd00::1", port: 80).line, "set server b/s1 addr fd00::1 port 80")
        XCTAssertEqual(SlotAction.setState(backend: "b", server: "s1", state: .ready).line, "set server b/s1 state ready")
        XCTAssertEqual(SlotAction.setState(backend: "b", server: "s1", state: .drain).line, "set server b/s1 state drain")
        XCTAssertEqual(SlotAction.setState(backend: "b", server: "s1", state: .maint).line, "set server b/s1 state maint")
        XCTAssertEqual(SlotAction.setWeight(backend: "b", server: "s1", weight: 7).line, "set weight b/s1 7")
        XCTAssertEqual(SlotAction.addServer(backend: "b", server: "s9", options: "").line, "add server b/s9 127.0.0.1:9")
        XCTAssertEqual(SlotAction.addServer(backend: "b", server: "s9", options: "check inter 2s").line, "add server b/s9 127.0.0.1:9 check inter 2s")
        XCTAssertEqual(SlotAction.enableHealth(backend: "b", server: "s9").line, "enable health b/s9")
    }

    func test_admin_bits_map_to_effective_states() {
        XCTAssertEqual(AdminState(adminBits: 0), .ready)
        XCTAssertEqual(AdminState(adminBits: 0x04), .ready, "the config 'disabled' marker alone is not maintenance")
        XCTAssertEqual(AdminState(adminBits: 0x01), .maint)
        XCTAssertEqual(AdminState(adminBits: 0x02), .maint)
        XCTAssertEqual(AdminState(adminBits: 0x20), .maint)
        XCTAssertEqual(AdminState(adminBits: 0x08), .drain)
        XCTAssertEqual(AdminState(adminBits: 0x10), .drain)
        XCTAssertEqual(AdminState(adminBits: 0x09), .maint, "maintenance wins over drain")
    }

    func test_an_old_workers_answer_is_a_stale_worker_status_not_a_refusal() {
        let line = SlotAction.setState(backend: "web", server: "slot1", state: .ready).line
        XCTAssertEqual(RuntimeAnswer.status(line: line, answer: "Proxy is disabled.\n"), .staleWorker)
        XCTAssertEqual(RuntimeAnswer.status(line: line, answer: "No such server.\n"), .refused("No such server."))
        XCTAssertEqual(RuntimeAnswer.status(line: line, answer: ""), .applied)
        XCTAssertTrue(RuntimeAnswer.isStaleWorker("Proxy is disabled."))
        XCTAssertFalse(RuntimeAnswer.isStaleWorker("No such backend."))
    }

    func test_a_batchs_results_carry_their_action_in_order() async throws {
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 3), .init(name: "api", slots: 2)])
        haproxy = h
        let client = RuntimeClient(endpoint: h.endpoint, timeout: .seconds(5))
        defer { client.close() }
        let actions: [SlotAction] = [
            .setAddress(backend: "web", server: "slot1", address: "127.0.0.2", port: 8080),
            .setWeight(backend: "api", server: "slot2", weight: 300),
            .setState(backend: "web", server: "nope", state: .ready),
            .setState(backend: "api", server: "slot1", state: .drain),
        ]
        let results = try await client.apply(actions)
        XCTAssertEqual(results.map(\.action), actions)
        XCTAssertEqual(results.map(\.succeeded), [true, false, false, true])
        XCTAssertEqual(results[1].refusal, "Absolute weight can only be between 0 and 256 inclusive.")
        XCTAssertEqual(results[1].action.backend, "api")
        XCTAssertEqual(results[2].status, .refused("No such server."))
        let live = try await client.readLiveState()
        XCTAssertEqual(live.backends["web"]?["slot1"]?.address, "127.0.0.2")
        XCTAssertEqual(live.backends["api"]?["slot1"]?.admin, .drain)
        XCTAssertEqual(live.backends["api"]?["slot2"]?.admin, .maint)
    }

    func test_an_action_whose_line_is_unsafe_to_send_is_refused_not_applied() async throws {
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 2)])
        haproxy = h
        let client = RuntimeClient(endpoint: h.endpoint, timeout: .seconds(5))
        defer { client.close() }
        let unsafe = SlotAction.setAddress(backend: "web", server: "slot1", address: "10.0.0.1;x", port: 80)
        let results = try await client.apply([unsafe, .setState(backend: "web", server: "slot2", state: .drain)])
        XCTAssertEqual(results[0].refusal?.hasPrefix("not sent"), true, "\(results[0])")
        XCTAssertEqual(results[1].status, .applied)
        let slot1 = try await h.servers("web")["slot1"]
        XCTAssertEqual(slot1?.address, "127.0.0.1")
    }

    func test_after_a_reload_the_old_connection_answers_stale_worker_and_a_probe_sees_the_new_worker() async throws {
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 2)], masterWorker: true)
        haproxy = h
        let client = RuntimeClient(endpoint: h.endpoint, timeout: .seconds(5))
        defer { client.close() }
        let before = try await client.showInfo()
        try await h.reload()
        let after = try await client.probeInfo()
        XCTAssertNotEqual(after.pid, before.pid, "a probe opens a new connection, which reaches the new worker")
        let results = try await client.apply([.setState(backend: "web", server: "slot1", state: .ready)])
        XCTAssertEqual(results.first?.status, .staleWorker, "\(results)")
        client.close()
        let again = try await client.apply([.setState(backend: "web", server: "slot1", state: .ready)])
        XCTAssertEqual(again.first?.status, .applied, "a new connection reaches the new worker")
    }
}
