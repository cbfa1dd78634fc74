import Dispatch
import HAProxyRuntime
import Synchronization
import TestSupport
import XCTest

/// Streamed batches: a backend's commands are on the socket while the feed plans the next; a live read hands each
/// backend over as its rows arrive; every answer is checked against its own action.
final class BatchStreamTests: XCTestCase {
    var haproxy: HAProxyInstance?

    override func tearDown() async throws {
        haproxy?.cleanup()
        haproxy = nil
    }

    /// A feed of fixed groups, one per backend, that records what it was handed and may look at HAProxy meanwhile.
    struct Feed: BatchFeed {
        var groups: [[SlotAction]]
        var admitPID: Int?
        var seenLive: [String] = []
        var liveServers: [String: [String: LiveServer]] = [:]
        var asked = 0
        /// Runs before the feed hands out group `n` (n ≥ 1), on the client's thread.
        var beforeGroup: (@Sendable (Int) -> Bool)?
        var checks: [Bool] = []
        var info: HAProxyInfo?

        mutating func admit(_ info: HAProxyInfo) -> Bool {
            self.info = info
            return admitPID.map { $0 == info.pid } ?? true
        }

        mutating func live(backend: String, servers: [String: LiveServer]) -> [SlotAction] {
            seenLive.append(backend)
            liveServers[backend] = servers
            return []
        }

        mutating func next() -> [SlotAction]? {
            guard asked < groups.count else { return nil }
            if asked > 0, let check = beforeGroup { checks.append(check(asked)) }
            asked += 1
            return groups[asked - 1]
        }
    }

    /// HAProxy's view of one server, asked over a connection of its own, from a thread that may block.
    static func blockingServer(_ h: HAProxyInstance, _ backend: String, _ server: String) -> ServerStateRow? {
        let box = Mutex<ServerStateRow?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            let row = try? await h.servers(backend)[server]
            box.withLock { $0 = row }
            done.signal()
        }
        done.wait()
        return box.withLock { $0 }
    }

    func test_each_backends_commands_are_applied_while_a_slow_planner_works_on_the_next() async throws {
        let h = try await HAProxyInstance(backends: (0..<4).map { .init(name: "be\($0)", slots: 2) }, withFrontends: false)
        haproxy = h
        let client = RuntimeClient(endpoint: h.endpoint, timeout: .seconds(5))
        defer { client.close() }
        let groups = (0..<4).map { b in [SlotAction.setAddress(backend: "be\(b)", server: "slot1", address: "10.0.0.\(b + 1)", port: 8000 + b)] }
        var feed = Feed(groups: groups)
        feed.beforeGroup = { n in
            // A planner slower than the write interval; meanwhile backend n-1's command must reach HAProxy and take effect.
            Thread.sleep(forTimeInterval: 0.002)
            let deadline = ContinuousClock.now + .seconds(5)
            while ContinuousClock.now < deadline {
                if Self.blockingServer(h, "be\(n - 1)", "slot1")?.address == "10.0.0.\(n)" { return true }
                Thread.sleep(forTimeInterval: 0.002)
            }
            return false
        }
        let done = await client.stream(feed, readingLiveFirst: false)
        XCTAssertNil(done.failure)
        XCTAssertEqual(done.feed.checks, [true, true, true], "each backend was applied before the next one was planned")
        XCTAssertEqual(client.connectionsOfLastBatch, 1, "a small batch stays on one connection")
        XCTAssertEqual(done.results.map(\.action), groups.flatMap { $0 })
        XCTAssertTrue(done.results.allSatisfy { $0.status == .applied })
    }

    func test_a_live_read_first_hands_over_every_backend_as_haproxy_has_it_then_plans_the_rest() async throws {
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 3), .init(name: "api", slots: 2)], withFrontends: false)
        haproxy = h
        let client = RuntimeClient(endpoint: h.endpoint, timeout: .seconds(5))
        defer { client.close() }
        _ = try await client.apply([.setAddress(backend: "api", server: "slot2", address: "10.9.9.9", port: 9999)])
        let expected = try await client.readLiveState()
        let done = await client.stream(Feed(groups: [[.setState(backend: "web", server: "slot1", state: .ready)]]), readingLiveFirst: true)
        XCTAssertNil(done.failure)
        XCTAssertEqual(done.feed.info?.pid, expected.info.pid)
        XCTAssertEqual(done.feed.seenLive, ["web", "api"], "in HAProxy's order, each once")
        XCTAssertEqual(done.feed.liveServers, expected.backends)
        XCTAssertEqual(done.feed.liveServers["api"]?["slot2"]?.address, "10.9.9.9")
        XCTAssertEqual(done.results.map(\.status), [.applied])
        let ready = try await h.readyEndpoints("web")
        XCTAssertEqual(ready, ["127.0.0.1:9"])
    }

    func test_every_answer_is_checked_against_its_own_action() async throws {
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 2)], withFrontends: false)
        haproxy = h
        let client = RuntimeClient(endpoint: h.endpoint, timeout: .seconds(5))
        defer { client.close() }
        let groups: [[SlotAction]] = [
            [.setAddress(backend: "web", server: "slot1", address: "10.0.0.1", port: 80), .setWeight(backend: "web", server: "slot1", weight: 300)],
            [.setState(backend: "web", server: "slot9", state: .ready), .setState(backend: "web", server: "slot2", state: .drain)],
            [.setAddress(backend: "web", server: "slot2", address: "10.0.0.2;x", port: 80)],
        ]
        let done = await client.stream(Feed(groups: groups), readingLiveFirst: false)
        XCTAssertNil(done.failure)
        XCTAssertEqual(done.results.map(\.action), groups.flatMap { $0 })
        XCTAssertEqual(done.results[0].status, .applied)
        XCTAssertEqual(done.results[1].status, .refused("Absolute weight can only be between 0 and 256 inclusive."))
        XCTAssertEqual(done.results[2].status, .refused("No such server."))
        XCTAssertEqual(done.results[3].status, .applied)
        XCTAssertEqual(done.results[4].refusal?.hasPrefix("not sent"), true, "an unsafe line is refused, never sent")
        let slot2 = try await h.servers("web")["slot2"]
        XCTAssertEqual(slot2?.address, "127.0.0.1")
    }

    func test_a_large_streamed_batch_over_two_connections_keeps_each_backends_order() async throws {
        let h = try await OrderedActions.haproxy()
        haproxy = h
        let client = RuntimeClient(endpoint: h.endpoint, timeout: .seconds(5))
        defer { client.close() }
        let groups = (0..<OrderedActions.backends).map(OrderedActions.actions(backend:))
        let done = await client.stream(Feed(groups: groups), readingLiveFirst: true)
        XCTAssertNil(done.failure)
        XCTAssertTrue(client.usesTwoConnections(forBatchOf: 2000), "the live read told the client HAProxy has two threads")
        XCTAssertEqual(client.connectionsOfLastBatch, 2, "past parallelThreshold actions a second connection joins")
        XCTAssertEqual(done.results.map(\.action), groups.flatMap { $0 })
        XCTAssertTrue(done.results.allSatisfy { $0.status == .applied })
        try OrderedActions.assertRanInOrder(try await client.showServersState())
    }

    func test_a_refused_live_read_sends_nothing() async throws {
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 1)], withFrontends: false)
        haproxy = h
        let client = RuntimeClient(endpoint: h.endpoint, timeout: .seconds(5))
        defer { client.close() }
        var feed = Feed(groups: [[.setState(backend: "web", server: "slot1", state: .ready)]])
        feed.admitPID = -1
        let done = await client.stream(feed, readingLiveFirst: true)
        XCTAssertNil(done.failure)
        XCTAssertTrue(done.results.isEmpty)
        XCTAssertEqual(done.feed.asked, 0, "nothing planned")
        let ready = try await h.readyEndpoints("web")
        XCTAssertEqual(ready, [])
        let pid = try await client.showInfo().pid
        XCTAssertEqual(pid, done.feed.info?.pid, "the client still works afterwards")
    }

    func test_an_empty_batch_never_touches_the_socket_and_an_unreachable_one_fails_with_nothing_done() async throws {
        let client = RuntimeClient(endpoint: .unix(path: "/nonexistent/discovery-bridge-test.sock"), timeout: .seconds(1))
        let empty = await client.stream(Feed(groups: [[], []]), readingLiveFirst: false)
        XCTAssertNil(empty.failure)
        XCTAssertEqual(empty.feed.asked, 2)
        let failed = await client.stream(Feed(groups: [[.setState(backend: "web", server: "slot1", state: .ready)]]), readingLiveFirst: false)
        XCTAssertEqual(failed.failure?.kind, .connect)
        XCTAssertEqual(failed.failure?.completed, 0)
        XCTAssertTrue(failed.results.isEmpty)
        let live = await client.stream(Feed(groups: []), readingLiveFirst: true)
        XCTAssertEqual(live.failure?.kind, .connect)
        XCTAssertNil(live.feed.info)
    }
}
