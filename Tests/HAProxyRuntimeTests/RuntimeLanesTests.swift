import HAProxyRuntime
import TestSupport
import XCTest

/// Large batches over two connections when HAProxy runs two threads: every backend's actions in order on one
/// connection, every answer checked, results in the caller's order.
final class RuntimeLanesTests: XCTestCase {
    var haproxy: HAProxyInstance?

    override func tearDown() async throws { haproxy?.cleanup() }

    func test_a_large_batch_over_two_connections_keeps_each_backends_order_and_checks_every_answer() async throws {
        let h = try await OrderedActions.haproxy()
        haproxy = h
        let client = RuntimeClient(endpoint: h.endpoint, timeout: .seconds(5))
        defer { client.close() }
        XCTAssertFalse(client.usesTwoConnections(forBatchOf: 2000), "HAProxy's thread count is unknown before show info")
        _ = try await client.readLiveState()
        XCTAssertTrue(client.usesTwoConnections(forBatchOf: 2000))
        XCTAssertFalse(client.usesTwoConnections(forBatchOf: 10), "a small batch stays on one connection")

        var actions = (0..<OrderedActions.backends).flatMap(OrderedActions.actions(backend:))
        actions.append(.setState(backend: "be3", server: "slot99", state: .ready))  // refused: no such server
        let results = try await client.apply(actions)
        XCTAssertEqual(results.map(\.action), actions, "results come back in the caller's order, each carrying its action")
        XCTAssertEqual(results.filter { $0.status != .applied }.map(\.action), [.setState(backend: "be3", server: "slot99", state: .ready)])
        try OrderedActions.assertRanInOrder(try await client.showServersState())
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
