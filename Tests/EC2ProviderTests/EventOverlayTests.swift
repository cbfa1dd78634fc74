@testable import EC2Provider
import XCTest

/// How events are laid over DescribeInstances: order by the event's time, duplicates, unknown instances, expiry.
final class EventOverlayTests: XCTestCase {
    func event(_ id: String, _ kind: EC2Event.Kind, at time: Double, instance: String = "i-00000001") -> EC2Event {
        EC2Event(id: id, instanceID: instance, time: time, region: "us-east-1", account: nil, kind: kind)
    }

    func test_a_drain_event_marks_a_known_instance_and_ignores_an_unknown_one() {
        var o = EventOverlay(drainOnRebalance: false)
        XCTAssertEqual(o.apply(event("a", .stateChange("stopping"), at: 10), known: true, now: 100), .drain)
        XCTAssertEqual(o.marks["i-00000001"]?.drain, .stateChange("stopping"))
        XCTAssertEqual(o.apply(event("b", .spotInterruption("terminate"), at: 10, instance: "i-00000002"), known: false, now: 100), .unknownInstance)
        XCTAssertNil(o.marks["i-00000002"])
    }

    func test_duplicates_and_older_events_are_rejected_and_a_newer_running_lifts_the_drain() {
        var o = EventOverlay(drainOnRebalance: false)
        XCTAssertEqual(o.apply(event("a", .stateChange("terminated"), at: 20), known: true, now: 100), .drain)
        XCTAssertEqual(o.apply(event("a", .stateChange("terminated"), at: 20), known: true, now: 101), .duplicate)
        XCTAssertEqual(o.apply(event("b", .stateChange("running"), at: 19), known: true, now: 101), .outOfOrder)
        XCTAssertEqual(o.apply(event("c", .stateChange("running"), at: 20), known: true, now: 101), .outOfOrder, "same second: running ranks before terminated")
        XCTAssertNotNil(o.marks["i-00000001"])
        XCTAssertEqual(o.apply(event("d", .stateChange("pending"), at: 30), known: true, now: 102), .describe)
        XCTAssertNil(o.marks["i-00000001"], "started again")
    }

    func test_rebalance_drains_only_when_configured() {
        var off = EventOverlay(drainOnRebalance: false)
        XCTAssertEqual(off.apply(event("a", .rebalance, at: 1), known: true, now: 1), .notDraining)
        var on = EventOverlay(drainOnRebalance: true)
        XCTAssertEqual(on.apply(event("a", .rebalance, at: 1), known: true, now: 1), .drain)
    }

    func test_marks_end_when_the_instance_is_gone_or_when_ec2_contradicts_a_state_change_long_after() {
        var o = EventOverlay(drainOnRebalance: false)
        _ = o.apply(event("a", .stateChange("stopping"), at: 10), known: true, now: 100)
        _ = o.apply(event("b", .spotInterruption("terminate"), at: 10, instance: "i-00000002"), known: true, now: 100)
        _ = o.apply(event("c", .terminating(LifecycleAction(token: "t", group: "g", hook: "h", instanceID: "i-00000003")), at: 10, instance: "i-00000003"), known: true, now: 100)
        let present = ["i-00000001": "running", "i-00000002": "running", "i-00000003": "running"]
        XCTAssertEqual(o.refreshed(present: present, startedAt: 150), [], "too soon to distrust the event")
        XCTAssertEqual(o.marks.count, 3)
        XCTAssertEqual(o.refreshed(present: present, startedAt: 400), ["i-00000001"], "a stopping event EC2 never confirmed")
        XCTAssertNotNil(o.marks["i-00000002"], "spot: EC2 says running until the reclaim")
        XCTAssertNotNil(o.marks["i-00000003"], "Terminating:Wait: EC2 says running until the action completes")
        XCTAssertEqual(o.refreshed(present: ["i-00000003": "running"], startedAt: 500), [])
        XCTAssertNil(o.marks["i-00000002"], "gone from DescribeInstances")
    }

    func test_a_forgotten_event_is_processed_again_on_redelivery() {
        var o = EventOverlay(drainOnRebalance: false)
        XCTAssertEqual(o.apply(event("a", .stateChange("running"), at: 10), known: false, now: 1), .describe)
        o.forget("a")
        XCTAssertEqual(o.apply(event("a", .stateChange("running"), at: 10), known: false, now: 2), .describe)
    }
}
