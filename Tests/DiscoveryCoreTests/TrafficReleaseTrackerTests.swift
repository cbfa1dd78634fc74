import DiscoveryCore
import Synchronization
import XCTest

/// The core's feedback to providers: "this instance no longer takes traffic in any backend".
final class TrafficReleaseTrackerTests: XCTestCase {
    final class Receiver: TrafficReleaseReceiver {
        let heard = Mutex<[[String]]>([])
        func noLongerServing(_ ids: [String]) { heard.withLock { $0.append(ids) } }
    }

    let backends = [
        Fixtures.backend(name: "web", sources: [SourceSpec(provider: "ec2", service: "web")]),
        Fixtures.backend(name: "canary", sources: [SourceSpec(provider: "ec2", service: "web")]),
    ]

    func table(_ name: String, _ slots: [(SlotState, String?)]) -> BackendSlots {
        BackendSlots(backend: name, slots: slots.enumerated().map { i, s in
            Slot(server: "slot\(i + 1)", number: i + 1, state: s.0, instanceID: s.1, address: s.1 == nil && s.0 == .free ? nil : "10.0.0.\(i + 1)", port: 8080)
        })
    }

    func test_an_instance_is_announced_only_once_it_left_every_backend_it_was_in() {
        var tracker = TrafficReleaseTracker()
        let r = Receiver()
        XCTAssertTrue(tracker.watch(provider: "ec2", ReleaseWatch(ids: ["i-1"], receiver: r)))
        var tables = ["web": table("web", [(.draining, "ec2/i-1")]), "canary": table("canary", [(.active, "ec2/i-1")])]
        XCTAssertTrue(tracker.due(tables: tables, backends: backends).isEmpty, "still draining in web, active in canary")
        tables["web"] = table("web", [(.free, nil)])
        XCTAssertTrue(tracker.due(tables: tables, backends: backends).isEmpty, "still serving in canary")
        tables["canary"] = table("canary", [(.draining, "ec2/i-1")])
        XCTAssertTrue(tracker.due(tables: tables, backends: backends).isEmpty)
        tables["canary"] = table("canary", [(.free, nil)])
        let due = tracker.due(tables: tables, backends: backends)
        XCTAssertEqual(due.map(\.ids), [["i-1"]])
        XCTAssertTrue(tracker.due(tables: tables, backends: backends).isEmpty, "announced once")
    }

    func test_an_instance_that_never_had_a_slot_is_announced_at_once_and_other_providers_ids_do_not_count() {
        var tracker = TrafficReleaseTracker()
        tracker.watch(provider: "ec2", ReleaseWatch(ids: ["i-2"], receiver: Receiver()))
        let tables = ["web": table("web", [(.active, "file/i-2")])]
        XCTAssertEqual(tracker.due(tables: tables, backends: backends).map(\.ids), [["i-2"]], "file/i-2 is another provider's instance")
    }

    func test_a_slot_adopted_without_a_record_defers_announcements_of_the_providers_feeding_its_backend() {
        var tracker = TrafficReleaseTracker()
        tracker.watch(provider: "ec2", ReleaseWatch(ids: ["i-3"], receiver: Receiver()))
        var tables = ["web": table("web", [(.draining, nil)])]
        XCTAssertTrue(tracker.due(tables: tables, backends: backends).isEmpty, "the unidentified draining slot may be i-3")
        tables["web"] = table("web", [(.free, nil)])
        XCTAssertEqual(tracker.due(tables: tables, backends: backends).map(\.ids), [["i-3"]])
    }

    func test_a_new_watch_replaces_the_old_one_and_a_relisted_id_is_announced_again() {
        var tracker = TrafficReleaseTracker()
        let r = Receiver()
        tracker.watch(provider: "ec2", ReleaseWatch(ids: ["i-4"], receiver: r))
        XCTAssertEqual(tracker.due(tables: [:], backends: backends).map(\.ids), [["i-4"]])
        XCTAssertFalse(tracker.watch(provider: "ec2", ReleaseWatch(ids: ["i-4"], receiver: r)), "already announced")
        XCTAssertFalse(tracker.watch(provider: "ec2", ReleaseWatch(ids: [], receiver: r)))
        XCTAssertFalse(tracker.hasPending)
        XCTAssertTrue(tracker.watch(provider: "ec2", ReleaseWatch(ids: ["i-4"], receiver: r)))
        XCTAssertEqual(tracker.due(tables: [:], backends: backends).map(\.ids), [["i-4"]])
    }
}
