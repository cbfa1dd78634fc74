import Dispatch
import HAProxyRuntime
import Synchronization
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The runtime client's own thread: work runs there in order, and an actor using it as its executor decides, plans,
/// sends and takes the answers of a batch on that one thread, with no hand-off to another.
final class RuntimeThreadTests: XCTestCase {
    var haproxy: HAProxyInstance?

    override func tearDown() async throws {
        haproxy?.cleanup()
        haproxy = nil
    }

    static var threadID: UInt { UInt(pthread_self()) }

    func test_work_given_to_the_thread_runs_there_in_the_order_given() async {
        let thread = RuntimeThread(name: "db-test")
        let seen = Mutex<[(Int, UInt, Bool)]>([])
        let done = DispatchSemaphore(value: 0)
        // From several threads at once: the order is each giver's own, all on one thread.
        DispatchQueue.concurrentPerform(iterations: 4) { giver in
            for k in 0..<250 {
                thread.async { seen.withLock { $0.append((giver * 1000 + k, Self.threadID, thread.isCurrent)) } }
            }
        }
        thread.async { done.signal() }
        await withCheckedContinuation { c in DispatchQueue.global().async { done.wait(); c.resume() } }
        let all = seen.withLock { $0 }
        XCTAssertEqual(all.count, 1000)
        XCTAssertEqual(Set(all.map(\.1)).count, 1, "one thread ran everything")
        XCTAssertTrue(all.allSatisfy(\.2), "the thread knows it is current")
        XCTAssertFalse(thread.isCurrent, "and another thread is not")
        for giver in 0..<4 {
            let mine = all.map(\.0).filter { $0 / 1000 == giver }
            XCTAssertEqual(mine, mine.sorted(), "giver \(giver)'s work ran in its order")
        }
    }

    /// An actor isolated to the client's thread, as the reconciler is.
    actor Decider {
        let client: RuntimeClient
        init(client: RuntimeClient) { self.client = client }
        nonisolated var unownedExecutor: UnownedSerialExecutor { client.laneThread.executor }

        /// Threads seen: deciding, planning each backend (in the feed), after the answers.
        func run(_ feed: BatchStreamTests.Feed) async -> (decided: UInt, planned: [UInt], answered: UInt, batch: StreamedBatch<ThreadNoting>) {
            let decided = RuntimeThreadTests.threadID
            let done = await client.stream(ThreadNoting(inner: feed), readingLiveFirst: false)
            return (decided, done.feed.threads, RuntimeThreadTests.threadID, done)
        }

        let reading = Atomic<Bool>(false)
        let pinged = Atomic<Bool>(false)

        func readLive() async throws(RuntimeError) -> LiveState {
            reading.store(true, ordering: .relaxed)
            return try await client.readLiveState()
        }

        func ping() { pinged.store(true, ordering: .relaxed) }
    }

    /// A feed that notes the thread each `next()` runs on.
    struct ThreadNoting: BatchFeed {
        var inner: BatchStreamTests.Feed
        var threads: [UInt] = []
        mutating func admit(_ info: HAProxyInfo) -> Bool { inner.admit(info) }
        mutating func live(backend: String, servers: [String: LiveServer]) -> [SlotAction] { inner.live(backend: backend, servers: servers) }
        mutating func next() -> [SlotAction]? {
            threads.append(RuntimeThreadTests.threadID)
            return inner.next()
        }
    }

    func test_a_live_read_leaves_the_clients_thread_free_so_its_actor_takes_other_work_while_haproxy_dumps() async throws {
        let h = try await HAProxyInstance(backends: [.init(name: "be0", slots: 2)], withFrontends: false)
        haproxy = h
        let client = RuntimeClient(endpoint: h.endpoint, timeout: .seconds(5))
        defer { client.close() }
        let decider = Decider(client: client)
        let pid = try XCTUnwrap(h.pid)
        // HAProxy stops answering (its socket still accepts): the read waits, as a dump of 10,000 servers does.
        kill(pid, SIGSTOP)
        var frozen = true
        defer { if frozen { kill(pid, SIGCONT) } }
        let read = Task { try await decider.readLive() }
        try await eventually("the read is on its way") { decider.reading.load(ordering: .relaxed) }
        Task { await decider.ping() }
        try await eventually("the actor took other work while the read waited", timeout: .seconds(2)) { decider.pinged.load(ordering: .relaxed) }
        kill(pid, SIGCONT)
        frozen = false
        let live = try await read.value
        XCTAssertEqual(live.backends["be0"]?.keys.sorted(), ["slot1", "slot2"], "and the read completes once HAProxy answers")
    }

    func test_an_actor_on_the_clients_executor_decides_plans_sends_and_takes_answers_on_one_thread() async throws {
        let h = try await HAProxyInstance(backends: (0..<3).map { .init(name: "be\($0)", slots: 2) }, withFrontends: false)
        haproxy = h
        let client = RuntimeClient(endpoint: h.endpoint, timeout: .seconds(5))
        defer { client.close() }
        let groups = (0..<3).map { b in [SlotAction.setAddress(backend: "be\(b)", server: "slot1", address: "10.0.1.\(b + 1)", port: 9000 + b)] }
        let decider = Decider(client: client)
        let seen = await decider.run(BatchStreamTests.Feed(groups: groups))
        XCTAssertNil(seen.batch.failure)
        XCTAssertEqual(seen.batch.results.map(\.succeeded), [true, true, true], "every answer checked against its action")
        XCTAssertEqual(seen.planned.count, 4, "three backends and the end")
        XCTAssertEqual(Set(seen.planned + [seen.answered]), [seen.decided], "planned, sent and answered on the thread that decided")
        for b in 0..<3 {
            let row = try await h.servers("be\(b)")["slot1"]
            XCTAssertEqual(row?.address, "10.0.1.\(b + 1)")
        }
        // A caller on no such executor still gets its answers, from the client's thread.
        let answers = try await client.raw(["show info"])
        XCTAssertTrue(answers.first?.contains("Pid:") ?? false)
    }
}
