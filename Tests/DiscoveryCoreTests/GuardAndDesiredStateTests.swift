import DiscoveryCore
import XCTest

final class DestructiveChangeGuardTests: XCTestCase {
    let policy = GuardPolicy(maxRemovedFraction: 0.5, minServers: 1, confirmAfter: .seconds(30), allowEmpty: false)
    let served = (1...10).map { Fixtures.instance($0) }

    private func ids(_ list: [DesiredInstance]) -> [String] { list.map(\.id).sorted() }

    func test_additions_and_small_removals_are_never_held() {
        let more = served + [Fixtures.instance(11)]
        let added = DestructiveChangeGuard.evaluate(served: served, desired: more, policy: policy, previous: nil, now: 0)
        XCTAssertNil(added.hold)
        XCTAssertEqual(ids(added.desired), ids(more))
        let fewer = Array(served.prefix(6))
        let removed = DestructiveChangeGuard.evaluate(served: served, desired: fewer, policy: policy, previous: nil, now: 0)
        XCTAssertNil(removed.hold, "40% removed is within 50%")
        XCTAssertEqual(ids(removed.desired), ids(fewer))
    }

    func test_additions_are_never_held_even_from_a_suspect_answer() {
        let decision = DestructiveChangeGuard.evaluate(
            served: served, desired: served + [Fixtures.instance(11)], policy: policy, previous: nil, suspectReason: "no leader", now: 0
        )
        XCTAssertNil(decision.hold)
        XCTAssertEqual(decision.desired.count, 11)
    }

    func test_an_empty_answer_is_held_and_what_is_served_stays() {
        let d = DestructiveChangeGuard.evaluate(served: served, desired: [], policy: policy, previous: nil, now: 100)
        XCTAssertEqual(ids(d.desired), ids(served))
        XCTAssertEqual(d.hold?.since, 100)
        XCTAssertEqual(d.hold?.wouldRemove, 10)
        XCTAssertEqual(d.hold?.reason.hasPrefix("empty answer"), true, d.hold?.reason ?? "")
        XCTAssertFalse(d.released)
        let later = DestructiveChangeGuard.evaluate(served: served, desired: [], policy: policy, previous: d.hold, now: 100 + 3600)
        XCTAssertNotNil(later.hold, "an empty answer is never confirmed by time without allow_empty")
        XCTAssertEqual(later.desired.count, 10)
    }

    func test_an_empty_answer_is_applied_after_confirm_after_when_allow_empty_is_set() {
        var allowing = policy
        allowing.allowEmpty = true
        let d = DestructiveChangeGuard.evaluate(served: served, desired: [], policy: allowing, previous: nil, now: 100)
        XCTAssertNotNil(d.hold, "still held at first")
        let later = DestructiveChangeGuard.evaluate(served: served, desired: [], policy: allowing, previous: d.hold, now: 130)
        XCTAssertNil(later.hold)
        XCTAssertTrue(later.released)
        XCTAssertTrue(later.desired.isEmpty)
    }

    func test_a_sixty_percent_drop_is_held_with_max_removed_fraction_one_half() {
        let d = DestructiveChangeGuard.evaluate(served: served, desired: Array(served.prefix(4)), policy: policy, previous: nil, now: 0)
        XCTAssertEqual(d.hold?.reason, "would remove 6 of 10 servers (60% > 50%)")
        XCTAssertEqual(d.hold?.fingerprint, ids(Array(served.prefix(4))))
        XCTAssertEqual(ids(d.desired), ids(served), "the held answer plus what it would have removed")
    }

    func test_exactly_the_allowed_fraction_is_not_held() {
        let d = DestructiveChangeGuard.evaluate(served: served, desired: Array(served.prefix(5)), policy: policy, previous: nil, now: 0)
        XCTAssertNil(d.hold)
    }

    func test_leaving_fewer_than_min_servers_is_held() {
        var strict = policy
        strict.minServers = 3
        strict.maxRemovedFraction = 1
        let two = Array(served.prefix(3))
        let d = DestructiveChangeGuard.evaluate(served: two, desired: Array(two.prefix(2)), policy: strict, previous: nil, now: 0)
        XCTAssertEqual(d.hold?.reason, "would leave 2 server(s), fewer than min_servers 3")
    }

    func test_a_held_answer_is_released_after_confirm_after_if_it_persists() {
        let answer = Array(served.prefix(2))
        let first = DestructiveChangeGuard.evaluate(served: served, desired: answer, policy: policy, previous: nil, now: 1000)
        let middle = DestructiveChangeGuard.evaluate(served: served, desired: answer.reversed(), policy: policy, previous: first.hold, now: 1029)
        XCTAssertEqual(middle.hold?.since, 1000, "the same answer keeps its timer whatever its order")
        XCTAssertEqual(middle.desired.count, 10)
        let confirmed = DestructiveChangeGuard.evaluate(served: served, desired: answer, policy: policy, previous: middle.hold, now: 1030)
        XCTAssertNil(confirmed.hold)
        XCTAssertTrue(confirmed.released)
        XCTAssertEqual(ids(confirmed.desired), ids(answer))
    }

    func test_a_different_answer_restarts_the_hold() {
        let first = DestructiveChangeGuard.evaluate(served: served, desired: Array(served.prefix(2)), policy: policy, previous: nil, now: 1000)
        let other = DestructiveChangeGuard.evaluate(served: served, desired: Array(served.prefix(3)), policy: policy, previous: first.hold, now: 1040)
        XCTAssertEqual(other.hold?.since, 1040)
        XCTAssertFalse(other.released)
        XCTAssertEqual(other.desired.count, 10)
    }

    func test_a_hold_ends_when_the_answer_becomes_acceptable() {
        let first = DestructiveChangeGuard.evaluate(served: served, desired: [], policy: policy, previous: nil, now: 0)
        let fine = DestructiveChangeGuard.evaluate(served: served, desired: Array(served.prefix(9)), policy: policy, previous: first.hold, now: 1)
        XCTAssertNil(fine.hold)
        XCTAssertTrue(fine.released)
    }

    func test_a_suspect_answer_holds_any_destructive_change_and_time_alone_never_confirms_it() {
        let oneGone = Array(served.dropLast())
        let d = DestructiveChangeGuard.evaluate(served: served, desired: oneGone, policy: policy, previous: nil, suspectReason: "no leader", now: 0)
        XCTAssertEqual(d.hold?.reason, "suspect answer: no leader")
        XCTAssertEqual(d.desired.count, 10)
        let later = DestructiveChangeGuard.evaluate(served: served, desired: oneGone, policy: policy, previous: d.hold, suspectReason: "no leader", now: 10_000)
        XCTAssertNotNil(later.hold)
        let normal = DestructiveChangeGuard.evaluate(served: served, desired: oneGone, policy: policy, previous: later.hold, now: 10_001)
        XCTAssertNil(normal.hold)
        XCTAssertEqual(normal.desired.count, 9)
    }

    func test_served_lists_only_active_slots_with_an_instance_and_endpoint() {
        let table = BackendSlots(backend: "web", slots: [
            Slot(server: "slot1", number: 1, state: .active, instanceID: "file/a", address: "10.0.0.1", port: 80, weight: 3),
            Slot(server: "slot2", number: 2, state: .draining, instanceID: "file/b", address: "10.0.0.2", port: 80),
            Slot(server: "slot3", number: 3, state: .active, address: "10.0.0.3", port: 80),
            Slot(server: "slot4", number: 4),
        ])
        XCTAssertEqual(DestructiveChangeGuard.served(by: table), [DesiredInstance(id: "file/a", address: "10.0.0.1", port: 80, weight: 3)])
    }
}

final class DesiredStateTests: XCTestCase {
    let consul = SourceSpec(provider: "consul", service: "web")
    let file = SourceSpec(provider: "file", service: "web", options: ["tag": .string("blue")])

    private func backend(port: Int? = 8080, health: HealthPolicy = .passing, defaultWeight: Int = 2) -> BackendConfig {
        Fixtures.backend(port: port, health: health, defaultWeight: defaultWeight, sources: [consul, file])
    }

    func test_instances_are_nil_until_every_source_has_reported() {
        let b = backend()
        XCTAssertNil(DesiredState.build(backend: b, snapshots: [:]).instances)
        XCTAssertNil(DesiredState.build(backend: b, snapshots: [consul.key: [Instance(id: "a", address: "10.0.0.1")]]).instances)
        XCTAssertEqual(DesiredState.build(backend: b, snapshots: [consul.key: [], file.key: []]).instances, [])
    }

    func test_sources_are_merged_with_namespaced_ids_default_port_and_weight() {
        let b = backend()
        let d = DesiredState.build(backend: b, snapshots: [
            consul.key: [Instance(id: "a", address: "10.0.0.1"), Instance(id: "b", address: "10.0.0.2", port: 9000, weight: 7)],
            file.key: [Instance(id: "a", address: "fd00::1", weight: 999)],
        ])
        XCTAssertEqual(d.instances, [
            DesiredInstance(id: "consul/a", address: "10.0.0.1", port: 8080, weight: 2),
            DesiredInstance(id: "consul/b", address: "10.0.0.2", port: 9000, weight: 7),
            DesiredInstance(id: "file/a", address: "fd00::1", port: 8080, weight: 256),
        ])
        XCTAssertEqual(d.instances?.last?.endpoint, "[fd00::1]:8080")
        XCTAssertTrue(d.rejected.isEmpty)
    }

    func test_two_instances_at_one_endpoint_keep_the_healthier_then_the_smaller_id() {
        let b = backend(health: .any)
        let d = DesiredState.build(backend: b, snapshots: [
            consul.key: [Instance(id: "z", address: "10.0.0.1", port: 80, health: .warning)],
            file.key: [Instance(id: "y", address: "10.0.0.1", port: 80), Instance(id: "x", address: "10.0.0.1", port: 80)],
        ])
        XCTAssertEqual(d.instances?.map(\.id), ["file/x"])
        XCTAssertEqual(Set(d.rejected.map(\.id)), ["consul/z", "file/y"])
        XCTAssertEqual(d.rejected.first?.reason, "same endpoint 10.0.0.1:80 as file/y")
    }

    func test_the_same_instance_listed_twice_counts_once() {
        let b = Fixtures.backend(sources: [SourceSpec(provider: "file", service: "web")])
        let d = DesiredState.build(backend: b, snapshots: [b.sources[0].key: [Instance(id: "a", address: "10.0.0.1"), Instance(id: "a", address: "10.0.0.1")]])
        XCTAssertEqual(d.instances?.count, 1)
        XCTAssertTrue(d.rejected.isEmpty)
    }

    func test_bad_addresses_and_missing_ports_are_rejected_with_a_reason() {
        let b = backend(port: nil)
        let d = DesiredState.build(backend: b, snapshots: [
            consul.key: [
                Instance(id: "host", address: "web1.example.com", port: 80),
                Instance(id: "noport", address: "10.0.0.2"),
                Instance(id: "badport", address: "10.0.0.3", port: 70000),
                Instance(id: "ok", address: "10.0.0.4", port: 80),
            ],
            file.key: [],
        ])
        XCTAssertEqual(d.instances?.map(\.id), ["consul/ok"])
        XCTAssertEqual(d.rejected.map { "\($0.id): \($0.reason)" }, [
            "consul/host: address \"web1.example.com\" is not an IPv4 or IPv6 literal",
            "consul/noport: no port: the instance has none and backend web sets no \"port\"",
            "consul/badport: port 70000 is out of range",
        ])
    }

    func test_the_health_policy_excludes_and_counts_instances() {
        let all: [Instance] = InstanceHealth.allCases.enumerated().map { i, h in Instance(id: h.rawValue, address: "10.0.0.\(i + 1)", health: h) }
        func admitted(_ policy: HealthPolicy) -> [String]? {
            DesiredState.build(backend: backend(health: policy), snapshots: [consul.key: all, file.key: []]).instances?.map(\.id)
        }
        XCTAssertEqual(admitted(.passing), ["consul/passing"])
        XCTAssertEqual(admitted(.passingOrWarning), ["consul/passing", "consul/warning"])
        XCTAssertEqual(admitted(.any), ["consul/passing", "consul/warning", "consul/critical"])
        XCTAssertEqual(DesiredState.build(backend: backend(), snapshots: [consul.key: all, file.key: []]).excludedByHealth, 3)
    }

    func test_health_aggregates_to_the_worst_state() {
        XCTAssertEqual(InstanceHealth.aggregate([.passing, .critical, .warning]), .critical)
        XCTAssertEqual(InstanceHealth.aggregate([.maintenance, .critical]), .maintenance)
        XCTAssertEqual(InstanceHealth.aggregate([]), .passing)
    }

    func test_address_literals() {
        for good in ["10.0.0.1", "0.0.0.0", "255.255.255.255", "::1", "::", "fd00::1", "2001:db8:0:0:0:0:0:1", "::ffff:10.0.0.1", "1:2:3:4:5:6:7:8"] {
            XCTAssertTrue(AddressLiteral.isValid(good), good)
        }
        for bad in ["", "10.0.0", "10.0.0.256", "010.0.0.1", "10.0.0.1.", "a.b.c.d", "host", "1:2:3:4:5:6:7:8:9", "1::2::3", "[::1]", "fe80::1%eth0", "12345::1", ":1:2:3:4:5:6:7"] {
            XCTAssertFalse(AddressLiteral.isValid(bad), bad)
        }
    }

    func test_source_keys_identify_provider_service_and_options() {
        XCTAssertEqual(consul.key, "consul:web")
        XCTAssertEqual(file.key, #"file:web:{"tag":"blue"}"#)
        XCTAssertEqual(SourceSpec(provider: "file", service: "web", options: ["tag": .string("blue")], path: "elsewhere"), file)
    }
}
