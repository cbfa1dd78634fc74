import HAProxyRuntime
import TestSupport
import XCTest

/// Large batches over two connections when HAProxy runs two threads: every backend's actions in order on one
/// connection, every answer checked, results in the caller's order.
final class RuntimeLanesTests: XCTestCase {
    var haproxy: HAProxyInstance?

    override func tearDown() async throws { haproxy?.cleanup() }

    func test_a_large_batch_over_two_connections_keeps_each_backends_order_and_checks_every_answer() async throws {
        let backends = 40, slots = 10
        let h = try await HAProxyInstance(backends: (0..<backends).map { .init(name: "be\($0)", slots: slots) }, withFrontends: false, extraGlobal: "    nbthread 2")
        haproxy = h
        let client = RuntimeClient(endpoint: h.endpoint, timeout: .seconds(5))
        defer { client.close() }
        XCTAssertFalse(client.usesTwoConnections(forBatchOf: 2000), "HAProxy's thread count is unknown before show info")
        _ = try await client.readLiveState()
        XCTAssertTrue(client.usesTwoConnections(forBatchOf: 2000))
        XCTAssertFalse(client.usesTwoConnections(forBatchOf: 10), "a small batch stays on one connection")

        // Per server: each later action overrides an earlier one, so only in-order execution ends at port 2xxx, drain.
        var actions: [SlotAction] = []
        for b in 0..<backends {
            for n in 1...slots {
                let server = "slot\(n)"
                actions.append(.setAddress(backend: "be\(b)", server: server, address: "10.0.\(b).\(n)", port: 1000 + n))
                actions.append(.setState(backend: "be\(b)", server: server, state: .ready))
                actions.append(.setWeight(backend: "be\(b)", server: server, weight: 7))
                actions.append(.setState(backend: "be\(b)", server: server, state: .drain))
                actions.append(.setAddress(backend: "be\(b)", server: server, address: "10.1.\(b).\(n)", port: 2000 + n))
            }
        }
        actions.append(.setState(backend: "be3", server: "slot99", state: .ready))  // refused: no such server
        let results = try await client.apply(actions)
        XCTAssertEqual(results.map(\.action), actions, "results come back in the caller's order, each carrying its action")
        XCTAssertEqual(results.filter { $0.status != .applied }.map(\.action), [.setState(backend: "be3", server: "slot99", state: .ready)])
        let rows = try await client.showServersState()
        for b in 0..<backends {
            for n in 1...slots {
                let row = try XCTUnwrap(rows.first { $0.backend == "be\(b)" && $0.server == "slot\(n)" })
                XCTAssertEqual("\(row.address):\(row.port)", "10.1.\(b).\(n):\(2000 + n)", "be\(b)/slot\(n)")
                XCTAssertEqual(row.adminState & 0x08, 0x08, "be\(b)/slot\(n) ends drained")
                XCTAssertEqual(row.userWeight, 7)
            }
        }
    }

    func test_one_haproxy_thread_means_one_connection() async throws {
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 1)], withFrontends: false, extraGlobal: "    nbthread 1")
        haproxy = h
        let client = RuntimeClient(endpoint: h.endpoint, timeout: .seconds(5))
        defer { client.close() }
        _ = try await client.readLiveState()
        XCTAssertFalse(client.usesTwoConnections(forBatchOf: 100_000))
    }
}
