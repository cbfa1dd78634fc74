import DiscoveryCore
import HAProxyRuntime
import XCTest

final class SlotPlannerTests: XCTestCase {
    let t0: Double = 1_700_000_000

    private func plan(
        _ cfg: BackendConfig, _ slots: BackendSlots, live: [String: LiveServer]? = nil, desired: [DesiredInstance]?,
        sessions: [String: Int] = [:], at now: Double? = nil
    ) -> BackendPlan {
        SlotPlanner.plan(PlannerInput(backend: cfg, slots: slots, live: live, desired: desired, sessions: sessions, now: now ?? t0))
    }

    private func lines(_ p: BackendPlan) -> [String] { p.commands.map(\.line) }

    private func slot(_ p: BackendPlan, _ n: Int) -> Slot? { p.slots.slots.first { $0.number == n } }

    // MARK: assignment

    func test_a_new_instance_takes_the_lowest_free_slot_with_addr_then_weight_then_ready() {
        let cfg = Fixtures.backend(slots: 3)
        let first = plan(cfg, .empty(for: cfg), desired: [Fixtures.instance(1)])
        let second = plan(cfg, first.slots, desired: [Fixtures.instance(1), Fixtures.instance(2, weight: 3)], at: t0 + 1)
        XCTAssertEqual(lines(second), [
            "set server web/slot2 addr 10.0.0.2 port 8080",
            "set weight web/slot2 3",
            "set server web/slot2 state ready",
        ])
        XCTAssertEqual(slot(second, 2)?.state, .active)
        XCTAssertEqual(slot(second, 2)?.instanceID, "file/i2")
        XCTAssertEqual(slot(second, 2)?.weight, 3)
        XCTAssertEqual(slot(second, 2)?.since, t0 + 1)
        XCTAssertEqual(second.changes.map(\.kind), [.assigned])
    }

    func test_the_weight_is_set_on_assignment_even_when_the_table_remembers_the_same_weight() {
        // Regression: a free slot's remembered weight is the last occupant's, not HAProxy's.
        let cfg = Fixtures.backend(slots: 1)
        let table = BackendSlots(backend: "web", slots: [Slot(server: "slot1", number: 1, state: .free, weight: 4)])
        XCTAssertEqual(lines(plan(cfg, table, desired: [Fixtures.instance(1, weight: 4)])), [
            "set server web/slot1 addr 10.0.0.1 port 8080", "set weight web/slot1 4", "set server web/slot1 state ready",
        ])
    }

    func test_newcomers_are_placed_in_id_order_so_the_plan_is_stable() {
        let cfg = Fixtures.backend(slots: 3)
        let p = plan(cfg, .empty(for: cfg), desired: [Fixtures.instance(3), Fixtures.instance(2)])
        XCTAssertEqual(slot(p, 1)?.instanceID, "file/i2")
        XCTAssertEqual(slot(p, 2)?.instanceID, "file/i3")
        XCTAssertEqual(slot(p, 3)?.state, .free)
    }

    func test_an_instance_keeps_its_slot_across_snapshots() {
        let cfg = Fixtures.backend(slots: 4)
        let a = plan(cfg, .empty(for: cfg), desired: [Fixtures.instance(5), Fixtures.instance(7)])
        let b = plan(cfg, a.slots, desired: [Fixtures.instance(1), Fixtures.instance(7), Fixtures.instance(5)], at: t0 + 5)
        XCTAssertEqual(slot(b, 1)?.instanceID, "file/i5")
        XCTAssertEqual(slot(b, 2)?.instanceID, "file/i7")
        XCTAssertEqual(slot(b, 3)?.instanceID, "file/i1")
        XCTAssertEqual(Set(b.commands.map(\.server)), ["slot3"])
        let c = plan(cfg, b.slots, desired: [Fixtures.instance(7), Fixtures.instance(1), Fixtures.instance(5)], at: t0 + 9)
        XCTAssertTrue(c.isEmpty)
        XCTAssertEqual(c.slots, b.slots)
    }

    func test_a_weight_change_sends_only_set_weight() {
        let cfg = Fixtures.backend(slots: 2)
        let a = plan(cfg, .empty(for: cfg), desired: [Fixtures.instance(1, weight: 2)])
        let b = plan(cfg, a.slots, desired: [Fixtures.instance(1, weight: 9)])
        XCTAssertEqual(lines(b), ["set weight web/slot1 9"])
        XCTAssertEqual(slot(b, 1)?.weight, 9)
        XCTAssertEqual(b.changes.map(\.kind), [.updated])
    }

    func test_an_instance_whose_address_changes_is_moved_in_place_on_its_slot() {
        let cfg = Fixtures.backend(slots: 2)
        let a = plan(cfg, .empty(for: cfg), desired: [Fixtures.instance(1)])
        var moved = Fixtures.instance(1)
        moved.address = "fd00::7"
        moved.port = 9000
        let b = plan(cfg, a.slots, desired: [moved])
        XCTAssertEqual(lines(b), ["set server web/slot1 addr fd00::7 port 9000"])
        XCTAssertEqual(slot(b, 1)?.endpoint, "[fd00::7]:9000")
        XCTAssertEqual(slot(b, 1)?.state, .active)
    }

    // MARK: draining

    func test_a_gone_instance_is_drained_before_its_slot_is_reused() {
        let cfg = Fixtures.backend(slots: 1, drainTimeout: .seconds(30))
        let a = plan(cfg, .empty(for: cfg), desired: [Fixtures.instance(1)])
        let b = plan(cfg, a.slots, desired: [Fixtures.instance(2)], at: t0 + 1)
        XCTAssertEqual(lines(b), ["set server web/slot1 state drain"])
        XCTAssertEqual(slot(b, 1)?.state, .draining)
        XCTAssertEqual(slot(b, 1)?.instanceID, "file/i1")
        XCTAssertEqual(slot(b, 1)?.drainDeadline, t0 + 31)
        XCTAssertEqual(b.unslotted.map(\.id), ["file/i2"], "the draining slot is not reused")

        let c = plan(cfg, b.slots, desired: [Fixtures.instance(2)], sessions: ["slot1": 3], at: t0 + 10)
        XCTAssertTrue(c.commands.isEmpty)
        XCTAssertEqual(slot(c, 1)?.state, .draining)
        XCTAssertEqual(c.unslotted.map(\.id), ["file/i2"])

        let d = plan(cfg, c.slots, desired: [Fixtures.instance(2)], sessions: ["slot1": 0], at: t0 + 11)
        XCTAssertEqual(lines(d), [
            "set server web/slot1 state maint",
            "set server web/slot1 addr 10.0.0.2 port 8080",
            "set weight web/slot1 1",
            "set server web/slot1 state ready",
        ])
        XCTAssertEqual(d.changes.map(\.kind), [.freed, .assigned])
        XCTAssertEqual(slot(d, 1)?.instanceID, "file/i2")
        XCTAssertTrue(d.unslotted.isEmpty)
    }

    func test_a_swap_readies_the_newcomer_before_draining_the_gone_instance() {
        let cfg = Fixtures.backend(slots: 2, drainTimeout: .seconds(30))
        let a = plan(cfg, .empty(for: cfg), desired: [Fixtures.instance(1)])
        let b = plan(cfg, a.slots, desired: [Fixtures.instance(2)], at: t0 + 1)
        XCTAssertEqual(lines(b), [
            "set server web/slot2 addr 10.0.0.2 port 8080",
            "set weight web/slot2 1",
            "set server web/slot2 state ready",
            "set server web/slot1 state drain",
        ], "between two commands of the batch the backend always has a server taking new connections")
        XCTAssertEqual(b.changes.map(\.kind), [.draining, .assigned])
    }

    func test_sessions_read_before_a_drain_began_do_not_free_the_slot() {
        let cfg = Fixtures.backend(slots: 2, drainTimeout: .seconds(30))
        let a = plan(cfg, .empty(for: cfg), desired: [Fixtures.instance(1)])
        // slot1 showed 0 sessions in an earlier read (e.g. of a previous occupant's drain); its new drain just began.
        let b = plan(cfg, a.slots, desired: [Fixtures.instance(2)], sessions: ["slot1": 0], at: t0 + 1)
        XCTAssertEqual(slot(b, 1)?.state, .draining)
        XCTAssertFalse(lines(b).contains("set server web/slot1 state maint"))
        let c = plan(cfg, b.slots, desired: [Fixtures.instance(2)], sessions: ["slot1": 0], at: t0 + 2)
        XCTAssertEqual(lines(c), ["set server web/slot1 state maint", "set server web/slot1 addr 127.0.0.1 port 9"], "a count read while draining frees it")
    }

    func test_a_draining_slot_is_freed_at_its_deadline_whatever_its_sessions() {
        let cfg = Fixtures.backend(slots: 1, drainTimeout: .seconds(30))
        let a = plan(cfg, .empty(for: cfg), desired: [Fixtures.instance(1)])
        let b = plan(cfg, a.slots, desired: [], at: t0)
        let early = plan(cfg, b.slots, desired: [], sessions: ["slot1": 5], at: t0 + 29.9)
        XCTAssertTrue(early.commands.isEmpty)
        let late = plan(cfg, early.slots, desired: [], sessions: ["slot1": 5], at: t0 + 30)
        XCTAssertEqual(lines(late), ["set server web/slot1 state maint", "set server web/slot1 addr 127.0.0.1 port 9"])
        XCTAssertEqual(late.changes.first?.detail, "drain timeout")
        XCTAssertEqual(slot(late, 1)?.state, .free)
        XCTAssertNil(slot(late, 1)?.instanceID)
        XCTAssertNil(slot(late, 1)?.drainDeadline)
    }

    func test_a_draining_slot_with_unmeasured_sessions_waits_for_its_deadline() {
        let cfg = Fixtures.backend(slots: 1)
        let a = plan(cfg, .empty(for: cfg), desired: [Fixtures.instance(1)])
        let b = plan(cfg, a.slots, desired: [])
        XCTAssertEqual(plan(cfg, b.slots, desired: [], sessions: [:], at: t0 + 5).slots, b.slots)
    }

    func test_with_a_zero_drain_timeout_a_gone_instance_is_drained_and_freed_at_once() {
        let cfg = Fixtures.backend(slots: 1, drainTimeout: .zero)
        let a = plan(cfg, .empty(for: cfg), desired: [Fixtures.instance(1)])
        let b = plan(cfg, a.slots, desired: [])
        XCTAssertEqual(lines(b), ["set server web/slot1 state drain", "set server web/slot1 state maint", "set server web/slot1 addr 127.0.0.1 port 9"])
        XCTAssertEqual(slot(b, 1)?.state, .free)
    }

    func test_an_instance_that_returns_while_draining_gets_its_slot_back() {
        let cfg = Fixtures.backend(slots: 2)
        let a = plan(cfg, .empty(for: cfg), desired: [Fixtures.instance(1)])
        let b = plan(cfg, a.slots, desired: [])
        let c = plan(cfg, b.slots, desired: [Fixtures.instance(1)], sessions: ["slot1": 2], at: t0 + 3)
        XCTAssertEqual(lines(c), ["set server web/slot1 state ready"])
        XCTAssertEqual(c.changes.map(\.kind), [.reactivated])
        XCTAssertEqual(slot(c, 1)?.state, .active)
        XCTAssertNil(slot(c, 1)?.drainDeadline)
        XCTAssertEqual(slot(c, 2)?.state, .free)
    }

    // MARK: health policy

    func test_an_instance_excluded_by_the_health_policy_is_drained_like_a_gone_one() {
        let cfg = Fixtures.backend(slots: 2, health: .passing)
        let key = cfg.sources[0].key
        let healthy = DesiredState.build(backend: cfg, snapshots: [key: [Instance(id: "a", address: "10.0.0.1"), Instance(id: "b", address: "10.0.0.2")]])
        let a = plan(cfg, .empty(for: cfg), desired: healthy.instances)
        XCTAssertEqual(a.slots.counts.active, 2)
        let warned = DesiredState.build(backend: cfg, snapshots: [key: [Instance(id: "a", address: "10.0.0.1"), Instance(id: "b", address: "10.0.0.2", health: .warning)]])
        XCTAssertEqual(warned.excludedByHealth, 1)
        let b = plan(cfg, a.slots, desired: warned.instances)
        XCTAssertEqual(lines(b), ["set server web/slot2 state drain"])

        let lenient = Fixtures.backend(slots: 2, health: .passingOrWarning)
        let kept = DesiredState.build(backend: lenient, snapshots: [key: [Instance(id: "a", address: "10.0.0.1"), Instance(id: "b", address: "10.0.0.2", health: .warning)]])
        XCTAssertTrue(plan(lenient, a.slots, desired: kept.instances).commands.isEmpty)
    }

    // MARK: running out of slots

    func test_when_slots_run_out_add_server_growth_adds_servers_at_the_placeholder_then_configures_one() {
        let cfg = Fixtures.backend(slots: 1, growth: GrowthPolicy(mode: .addServer, increment: 2, maxSlots: 5), serverOptions: "check inter 2s")
        let a = plan(cfg, .empty(for: cfg), desired: [Fixtures.instance(1)])
        let b = plan(cfg, a.slots, desired: [Fixtures.instance(1), Fixtures.instance(2, weight: 1)])
        XCTAssertEqual(lines(b), [
            "add server web/slot2 127.0.0.1:9 check inter 2s",
            "enable health web/slot2",
            "add server web/slot3 127.0.0.1:9 check inter 2s",
            "enable health web/slot3",
            "set server web/slot2 addr 10.0.0.2 port 8080",
            "set weight web/slot2 1",
            "set server web/slot2 state ready",
        ])
        XCTAssertEqual(b.changes.map(\.kind), [.added, .added, .assigned])
        XCTAssertEqual(slot(b, 2)?.dynamic, true)
        XCTAssertEqual(slot(b, 3)?.dynamic, true)
        XCTAssertEqual(slot(b, 3)?.state, .free)
        XCTAssertTrue(b.unslotted.isEmpty)
    }

    func test_growth_without_health_checks_does_not_enable_health() {
        let cfg = Fixtures.backend(slots: 1, growth: GrowthPolicy(mode: .addServer, increment: 1, maxSlots: 2), serverOptions: "")
        let a = plan(cfg, .empty(for: cfg), desired: [Fixtures.instance(1), Fixtures.instance(2)])
        XCTAssertEqual(a.commands.filter { $0.line.hasPrefix("add") || $0.line.hasPrefix("enable") }.map(\.line), ["add server web/slot2 127.0.0.1:9"])
    }

    func test_growth_stops_at_max_slots_and_the_rest_is_unslotted() {
        let cfg = Fixtures.backend(slots: 1, growth: GrowthPolicy(mode: .addServer, increment: 5, maxSlots: 3))
        let p = plan(cfg, .empty(for: cfg), desired: (1...5).map { Fixtures.instance($0) })
        XCTAssertEqual(p.slots.slots.map(\.server), ["slot1", "slot2", "slot3"])
        XCTAssertEqual(p.changes.filter { $0.kind == .added }.map(\.detail), ["growth step of 2", "growth step of 2"])
        XCTAssertEqual(p.unslotted.map(\.id), ["file/i4", "file/i5"])
    }

    func test_without_growth_instances_beyond_the_slots_are_unslotted_and_nothing_is_added() {
        let cfg = Fixtures.backend(slots: 2)
        let p = plan(cfg, .empty(for: cfg), desired: (1...3).map { Fixtures.instance($0) })
        XCTAssertEqual(p.unslotted.map(\.id), ["file/i3"])
        XCTAssertFalse(p.commands.contains { if case .addServer = $0 { return true } else { return false } })
        XCTAssertEqual(p.slots.slots.count, 2)
    }

    // MARK: live state: drift, restarts, missing servers

    func test_drift_is_repaired_when_live_state_differs_from_the_table() {
        let cfg = Fixtures.backend(slots: 3)
        let a = plan(cfg, .empty(for: cfg), desired: [Fixtures.instance(1, weight: 2), Fixtures.instance(2)])
        var live = Fixtures.freshLive(cfg)
        live["slot1"] = LiveServer(name: "slot1", address: "10.0.0.1", port: 8080, admin: .maint, weight: 2)
        live["slot2"] = LiveServer(name: "slot2", address: "10.0.0.99", port: 8080, admin: .ready, weight: 5)
        live["slot3"] = LiveServer(name: "slot3", address: "127.0.0.1", port: 9, admin: .ready, weight: 1)
        let b = plan(cfg, a.slots, live: live, desired: [Fixtures.instance(1, weight: 2), Fixtures.instance(2)])
        // Addresses first (all together, so that one repair never waits on another's), then weights and states.
        XCTAssertEqual(lines(b), [
            "set server web/slot2 addr 10.0.0.2 port 8080",
            "set server web/slot1 state ready",
            "set weight web/slot2 1",
            "set server web/slot3 state maint",
        ])
        XCTAssertEqual(Set(b.changes.map(\.kind)), [.repaired])
        XCTAssertEqual(b.slots, a.slots)
    }

    func test_without_live_state_the_table_is_assumed_live_and_nothing_is_repaired() {
        let cfg = Fixtures.backend(slots: 2)
        let a = plan(cfg, .empty(for: cfg), desired: [Fixtures.instance(1)])
        let b = plan(cfg, a.slots, live: nil, desired: [Fixtures.instance(1)])
        XCTAssertTrue(b.isEmpty)
        XCTAssertTrue(b.missingServers.isEmpty)
    }

    func test_without_desired_state_assignments_are_kept_but_drains_finish_and_drift_is_repaired() {
        let cfg = Fixtures.backend(slots: 3)
        let a = plan(cfg, .empty(for: cfg), desired: [Fixtures.instance(1), Fixtures.instance(2)])
        let b = plan(cfg, a.slots, desired: [Fixtures.instance(1)])
        XCTAssertEqual(slot(b, 2)?.state, .draining)
        var live = Fixtures.freshLive(cfg)
        live["slot1"] = LiveServer(name: "slot1", address: "10.0.0.1", port: 8080, admin: .maint, weight: 1)
        live["slot2"] = LiveServer(name: "slot2", address: "10.0.0.2", port: 8080, admin: .drain, weight: 1)
        let c = plan(cfg, b.slots, live: live, desired: nil, sessions: ["slot2": 0], at: t0 + 1)
        XCTAssertEqual(lines(c), ["set server web/slot2 state maint", "set server web/slot2 addr 127.0.0.1 port 9", "set server web/slot1 state ready"])
        XCTAssertEqual(slot(c, 1)?.instanceID, "file/i1")
        XCTAssertEqual(slot(c, 2)?.state, .free)
        XCTAssertTrue(c.unslotted.isEmpty)
    }

    func test_without_desired_state_an_active_instance_is_not_drained() {
        let cfg = Fixtures.backend(slots: 2)
        let a = plan(cfg, .empty(for: cfg), desired: [Fixtures.instance(1)])
        XCTAssertTrue(plan(cfg, a.slots, desired: nil, at: t0 + 100).isEmpty)
    }

    func test_after_an_haproxy_restart_every_used_slot_is_applied_again() throws {
        let cfg = Fixtures.backend(slots: 3, growth: GrowthPolicy(mode: .addServer, increment: 1, maxSlots: 4))
        let all = (1...4).map { Fixtures.instance($0, weight: 3) }
        var haproxy = SimulatedHAProxy(backends: [cfg])
        let a = plan(cfg, .empty(for: cfg), live: haproxy.live("web"), desired: all)
        try haproxy.apply(a.commands)
        let b = plan(cfg, a.slots, live: haproxy.live("web"), desired: Array(all.dropFirst()), at: t0 + 1)
        try haproxy.apply(b.commands)
        XCTAssertEqual(slot(b, 1)?.state, .draining)

        haproxy.restart()
        let live = haproxy.live("web")
        XCTAssertEqual(Set(live.values.map(\.admin)), [.maint])
        let c = plan(cfg, b.slots, live: live, desired: Array(all.dropFirst()), sessions: ["slot1": 1], at: t0 + 2)
        XCTAssertEqual(lines(c), [
            "add server web/slot4 127.0.0.1:9 check",
            "enable health web/slot4",
            "set server web/slot1 addr 10.0.0.1 port 8080", "set server web/slot2 addr 10.0.0.2 port 8080",
            "set server web/slot3 addr 10.0.0.3 port 8080", "set server web/slot4 addr 10.0.0.4 port 8080",
            "set weight web/slot1 3", "set server web/slot1 state drain",
            "set weight web/slot2 3", "set server web/slot2 state ready",
            "set weight web/slot3 3", "set server web/slot3 state ready",
            "set weight web/slot4 3", "set server web/slot4 state ready",
        ])
        XCTAssertEqual(c.slots, b.slots)
        try haproxy.apply(c.commands)
        XCTAssertTrue(plan(cfg, c.slots, live: haproxy.live("web"), desired: Array(all.dropFirst()), sessions: ["slot1": 1], at: t0 + 2).isEmpty)
    }

    func test_a_free_dynamic_slot_lost_in_a_restart_is_added_again_and_left_in_maint() {
        let cfg = Fixtures.backend(slots: 1, growth: GrowthPolicy(mode: .addServer, increment: 1, maxSlots: 2))
        let table = BackendSlots(backend: "web", slots: [
            Slot(server: "slot1", number: 1, state: .active, instanceID: "file/i1", address: "10.0.0.1", port: 8080),
            Slot(server: "slot2", number: 2, dynamic: true),
        ])
        var live = Fixtures.freshLive(cfg)
        live["slot1"] = LiveServer(name: "slot1", address: "10.0.0.1", port: 8080, admin: .ready, weight: 1)
        let p = plan(cfg, table, live: live, desired: [Fixtures.instance(1)])
        XCTAssertEqual(lines(p), ["add server web/slot2 127.0.0.1:9 check", "enable health web/slot2"])
        XCTAssertEqual(p.changes.map(\.kind), [.repaired])
    }

    func test_template_servers_missing_from_haproxy_are_reported_and_their_instances_move() {
        let cfg = Fixtures.backend(slots: 3)
        let a = plan(cfg, .empty(for: cfg), desired: [Fixtures.instance(1), Fixtures.instance(2)])
        var live = Fixtures.freshLive(cfg)
        live["slot1"] = LiveServer(name: "slot1", address: "10.0.0.1", port: 8080, admin: .ready, weight: 1)
        live["slot2"] = nil
        let b = plan(cfg, a.slots, live: live, desired: [Fixtures.instance(1), Fixtures.instance(2)])
        XCTAssertEqual(b.missingServers, ["slot2"])
        XCTAssertEqual(b.changes.first?.kind, .missing)
        XCTAssertEqual(slot(b, 2)?.state, .free)
        XCTAssertEqual(slot(b, 3)?.instanceID, "file/i2")
        XCTAssertFalse(b.commands.contains { $0.server == "slot2" }, "nothing is sent to a server HAProxy lacks")
    }

    func test_template_slots_added_to_the_config_join_the_table_as_free() {
        let small = Fixtures.backend(slots: 1)
        let a = plan(small, .empty(for: small), desired: [Fixtures.instance(1)])
        let bigger = Fixtures.backend(slots: 3)
        let b = plan(bigger, a.slots, desired: [Fixtures.instance(1), Fixtures.instance(2)], at: t0 + 1)
        XCTAssertEqual(b.slots.slots.map(\.server), ["slot1", "slot2", "slot3"])
        XCTAssertEqual(slot(b, 2)?.instanceID, "file/i2")
        XCTAssertEqual(slot(b, 3)?.state, .free)
    }

    func test_a_slot_adopted_from_live_state_without_an_id_is_matched_by_endpoint() {
        let cfg = Fixtures.backend(slots: 2)
        let table = BackendSlots(backend: "web", slots: [
            Slot(server: "slot1", number: 1, state: .active, address: "10.0.0.1", port: 8080),
            Slot(server: "slot2", number: 2, state: .active, address: "10.0.0.9", port: 8080),
        ])
        let p = plan(cfg, table, desired: [Fixtures.instance(1)])
        XCTAssertEqual(lines(p), ["set server web/slot2 state drain"])
        XCTAssertEqual(slot(p, 1)?.instanceID, "file/i1")
        XCTAssertEqual(p.changes.map(\.kind), [.adopted, .draining])
    }

    func test_plans_only_name_their_own_backend() {
        let cfg = Fixtures.backend(name: "api", slots: 2, growth: GrowthPolicy(mode: .addServer, increment: 1, maxSlots: 3))
        let p = plan(cfg, .empty(for: cfg), live: Fixtures.freshLive(cfg), desired: (1...3).map { Fixtures.instance($0) })
        XCTAssertFalse(p.commands.isEmpty)
        XCTAssertTrue(p.commands.allSatisfy { $0.backend == "api" && $0.line.contains("api/") })
        XCTAssertEqual(p.backend, "api")
    }
}
