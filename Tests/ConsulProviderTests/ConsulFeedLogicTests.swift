@testable import ConsulProvider
import DiscoveryCore
import Logging
import XCTest

/// The change feed's and the gate's rules, without a server.
final class ConsulFeedLogicTests: XCTestCase {
    func check(_ node: String, _ id: String, _ status: String, service: String = "", modify: UInt64 = 5) -> ConsulCheck {
        ConsulCheck(node: node, checkID: id, status: status, serviceID: service.isEmpty ? "" : service + "-1", serviceName: service,
                    createIndex: 1, modifyIndex: modify)
    }

    func test_check_diff_names_changed_services_and_nodes_and_the_indexes_it_explains() {
        let before = [check("n1", "serfHealth", "passing"), check("n1", "web:1", "passing", service: "web"), check("n2", "db:1", "passing", service: "db")]
        let (_, baseline) = CheckDiff.between([:], before, answerIndex: 5)
        let after = [check("n1", "serfHealth", "passing"), check("n1", "web:1", "critical", service: "web", modify: 9)]
        let (diff, _) = CheckDiff.between(baseline, after, answerIndex: 9)
        XCTAssertEqual(diff.services, ["web", "db"], "a changed check and a removed one")
        XCTAssertEqual(diff.nodes, [])
        XCTAssertTrue(diff.indexes.contains(9))
        let (node, _) = CheckDiff.between(baseline, [check("n1", "serfHealth", "critical", modify: 10)] + before.dropFirst(), answerIndex: 10)
        XCTAssertEqual(node.nodes, ["n1"], "a node check change concerns every service on the node")
        let (same, _) = CheckDiff.between(baseline, before, answerIndex: 11)
        XCTAssertTrue(same.isEmpty, "an unchanged answer (a wait timeout) changes nothing")
    }

    func test_fetch_queue_deduplicates_and_refetches_what_changed_during_a_fetch() async {
        let q = FetchQueue()
        let a = WatchKey(service: "a", params: ConsulQueryParams()), b = WatchKey(service: "b", params: ConsulQueryParams())
        q.enqueue([a, b, a])
        let first = await q.next()
        XCTAssertEqual(first, a)
        q.enqueue([a])  // changed again while being fetched
        let second = await q.next()
        XCTAssertEqual(second, b)
        q.done(a)
        let third = await q.next()
        XCTAssertEqual(third, a, "fetched once more after the fetch in flight")
        q.done(b)
        q.done(a)
        XCTAssertEqual(q.backlog, 0)
        let waiting = Task { await q.next() }
        try? await Task.sleep(for: .milliseconds(20))
        waiting.cancel()
        let cancelled = await waiting.value
        XCTAssertNil(cancelled, "a cancelled worker stops waiting")
    }

    func test_a_change_is_fetched_before_a_sweep_of_every_service_already_queued() async {
        let q = FetchQueue()
        let keys = (0..<2000).map { WatchKey(service: "svc-\($0)", params: ConsulQueryParams()) }
        q.enqueue(keys)  // a sweep: every watched service
        let first = await q.next()
        XCTAssertEqual(first, keys[0])
        q.enqueue([keys[1500]], urgent: true)  // a check change names one already queued far behind
        q.enqueue([keys[0]], urgent: true)  // and one whose fetch is in flight
        let next = await q.next()
        XCTAssertEqual(next, keys[1500], "the change goes first, not after 1,500 sweep fetches")
        q.done(keys[0])
        let again = await q.next()
        XCTAssertEqual(again, keys[0], "changed while in flight: fetched again before the sweep goes on")
        let rest = await q.next()
        XCTAssertEqual(rest, keys[1], "then the sweep resumes in order")
        q.done(keys[1500])
        q.done(keys[0])
        q.done(keys[1])
        var fetched: [WatchKey] = []
        while q.backlog > 0, let k = await q.next() {
            fetched.append(k)
            q.done(k)
        }
        XCTAssertEqual(fetched.count, 1997, "the sweep fetches each of the other 1,997 services once; the one taken early is not fetched twice")
        XCTAssertFalse(fetched.contains(keys[1500]))
    }

    func test_gate_halves_on_a_refusal_logs_once_and_grows_back_no_higher_than_what_was_refused() async {
        let gate = RequestGate(capacity: 16, floor: 3, retryMax: .milliseconds(20), address: "http://x", logger: Logger(label: "t"))
        for _ in 0..<12 { _ = await gate.acquire() }
        gate.refused("HTTP 429")
        XCTAssertEqual(gate.limit, 6, "half of what was in flight")
        gate.refused("HTTP 429")
        XCTAssertEqual(gate.limit, 6, "one decrease per episode, not per refusal")
        XCTAssertTrue(gate.backingOff)
        for _ in 0..<12 { gate.release() }
        try? await Task.sleep(for: .milliseconds(60))
        for _ in 0..<20 { gate.succeeded(sentAt: .now) }
        XCTAssertFalse(gate.backingOff)
        XCTAssertEqual(gate.limit, 11, "grows back to what Consul accepted (12 in flight less the refused one)")
        XCTAssertEqual(gate.refusals, 2)
    }

    func test_gate_an_answer_to_a_request_sent_before_the_refusals_does_not_end_the_episode() async {
        let gate = RequestGate(capacity: 16, floor: 3, retryMax: .milliseconds(20), address: "http://x", logger: Logger(label: "t"))
        for _ in 0..<12 { _ = await gate.acquire() }
        let blockingQuerySent = ContinuousClock.now
        try? await Task.sleep(for: .milliseconds(2))
        gate.refused("HTTP 429")
        XCTAssertEqual(gate.limit, 6)
        try? await Task.sleep(for: .milliseconds(60))
        gate.release()
        gate.succeeded(sentAt: blockingQuerySent)
        XCTAssertTrue(gate.backingOff, "a blocking query taken in before the storm and woken in it proves nothing")
        XCTAssertEqual(gate.limit, 6, "nor does it grow the limit")
        gate.succeeded(sentAt: .now)
        XCTAssertFalse(gate.backingOff, "an answer to a request sent after the refusal ends the episode")
        XCTAssertEqual(gate.limit, 7)
    }

    func test_gate_waiters_get_permits_in_turn_and_cancellation_frees_them() async {
        let gate = RequestGate(capacity: 3, floor: 3, retryMax: .milliseconds(20), address: "http://x", logger: Logger(label: "t"))
        for _ in 0..<3 { _ = await gate.acquire() }
        let waiter = Task { await gate.acquire() }
        try? await Task.sleep(for: .milliseconds(20))
        XCTAssertEqual(gate.inFlight, 3)
        gate.release()
        let granted = await waiter.value
        XCTAssertTrue(granted)
        let cancelled = Task { await gate.acquire() }
        try? await Task.sleep(for: .milliseconds(20))
        cancelled.cancel()
        let result = await cancelled.value
        XCTAssertFalse(result)
        XCTAssertEqual(gate.inFlight, 3)
    }

    func test_budget_uses_one_query_per_service_while_they_fit_and_the_feed_beyond() {
        let budget = WatchBudget(configured: .auto, watches: 10, limit: 16, extra: 0)
        XCTAssertEqual(budget.decide(current: nil), .perService)
        budget.setWatches(17)
        XCTAssertEqual(budget.decide(current: .perService), .feed)
        budget.setWatches(14)
        XCTAssertEqual(budget.decide(current: .feed), .feed, "hysteresis: back only below three quarters of the limit")
        budget.setWatches(12)
        XCTAssertEqual(budget.decide(current: .feed), .perService)
        budget.setLimit(6)
        XCTAssertEqual(budget.decide(current: .perService), .feed, "a lowered concurrency moves the watches to the feed")
        XCTAssertEqual(WatchBudget(configured: .feed, watches: 1, limit: 16, extra: 0).decide(current: nil), .feed)
    }
}
