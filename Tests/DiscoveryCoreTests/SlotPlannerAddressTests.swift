import DiscoveryCore
import HAProxyRuntime
import XCTest

/// HAProxy keeps one server per `ip:port` in the index `srvkey addr` stick tables use: the plans never put an address on
/// two servers, so a stick entry synced from the other host of a pair reaches the server holding that address here.
final class SlotPlannerAddressTests: XCTestCase {
    let t0: Double = 1_700_000_000

    private func plan(
        _ cfg: BackendConfig, _ slots: BackendSlots, live: [String: LiveServer]? = nil, desired: [DesiredInstance]?,
        sessions: [String: Int] = [:], at now: Double? = nil
    ) -> BackendPlan {
        SlotPlanner.plan(PlannerInput(backend: cfg, slots: slots, live: live, desired: desired, sessions: sessions, now: now ?? t0))
    }

    private func lines(_ p: BackendPlan) -> [String] { p.commands.map(\.line) }
    private func slot(_ p: BackendPlan, _ n: Int) -> Slot? { p.slots.slots.first { $0.number == n } }

    private func instance(_ id: String, _ address: String, port: Int = 8080) -> DesiredInstance {
        DesiredInstance(id: "file/\(id)", address: address, port: port, weight: 1)
    }

    private func active(_ n: Int, _ id: String, _ address: String, port: Int = 8080) -> Slot {
        Slot(server: "slot\(n)", number: n, state: .active, instanceID: "file/\(id)", address: address, port: port)
    }

    private func draining(_ n: Int, _ id: String?, _ address: String, until deadline: Double) -> Slot {
        Slot(server: "slot\(n)", number: n, state: .draining, instanceID: id.map { "file/\($0)" }, address: address, port: 8080, drainDeadline: deadline)
    }

    /// Plays the plan against a simulated HAProxy, failing if any command leaves two servers at one address.
    private func playChecked(_ cfg: BackendConfig, _ p: BackendPlan, on haproxy: inout SimulatedHAProxy, file: StaticString = #filePath, line: UInt = #line) throws {
        for c in p.commands {
            try haproxy.apply(c)
            XCTAssertEqual(haproxy.sharedAddresses(cfg.name), [], "after \(c.line)", file: file, line: line)
        }
        let index = haproxy.addressIndex[cfg.name] ?? [:]
        for s in p.slots.slots where s.state != .free {
            XCTAssertEqual(index[s.endpoint ?? ""], s.server, "the address index entry of \(s.endpoint ?? "-")", file: file, line: line)
        }
    }

    /// The common start: instances a (10.0.0.1) and b (10.0.0.2) planned into an empty table and played on `haproxy`.
    private func serveAB(_ cfg: BackendConfig, on haproxy: inout SimulatedHAProxy, file: StaticString = #filePath, line: UInt = #line) throws -> BackendPlan {
        let a = plan(cfg, .empty(for: cfg), live: haproxy.live("web"), desired: [instance("a", "10.0.0.1"), instance("b", "10.0.0.2")])
        try playChecked(cfg, a, on: &haproxy, file: file, line: line)
        return a
    }

    func test_a_freed_slot_goes_back_to_the_placeholder_and_forgets_its_address() {
        let cfg = Fixtures.backend(slots: 2, drainTimeout: .seconds(10))
        let a = plan(cfg, .empty(for: cfg), desired: [instance("a", "10.0.0.1")])
        let b = plan(cfg, a.slots, desired: [], at: t0 + 1)
        let c = plan(cfg, b.slots, desired: [], sessions: ["slot1": 0], at: t0 + 2)
        XCTAssertEqual(lines(c), ["set server web/slot1 state maint", "set server web/slot1 addr 127.0.0.1 port 9"])
        XCTAssertEqual(slot(c, 1)?.state, .free)
        XCTAssertNil(slot(c, 1)?.address)
        XCTAssertNil(slot(c, 1)?.port)
    }

    /// The reload drill's one failed request: a new worker read the managed file a batch behind, so a slot the table
    /// has free still served its old instance; moving it to the placeholder first sent requests to 127.0.0.1:9.
    func test_a_free_slot_a_reload_left_serving_leaves_rotation_before_it_moves_to_the_placeholder() {
        let cfg = Fixtures.backend(slots: 2)
        let a = plan(cfg, .empty(for: cfg), desired: [instance("a", "10.0.0.1")])
        var live: [String: LiveServer] = ["slot1": LiveServer(name: "slot1", address: "10.0.0.1", port: 8080, admin: .ready, weight: 1),
                                          "slot2": LiveServer(name: "slot2", address: "10.0.0.2", port: 8080, admin: .ready, weight: 1)]
        let p = plan(cfg, a.slots, live: live, desired: [instance("a", "10.0.0.1")], at: t0 + 1)
        XCTAssertEqual(lines(p), ["set server web/slot2 state maint", "set server web/slot2 addr 127.0.0.1 port 9"])
        live["slot2"] = LiveServer(name: "slot2", address: "10.0.0.2", port: 8080, admin: .maint, weight: 1)
        let q = plan(cfg, a.slots, live: live, desired: [instance("a", "10.0.0.1")], at: t0 + 1)
        XCTAssertEqual(lines(q), ["set server web/slot2 addr 127.0.0.1 port 9"], "already in maint: only the move")
    }

    func test_a_freed_slot_reassigned_in_the_same_plan_skips_the_placeholder() {
        let cfg = Fixtures.backend(slots: 1, drainTimeout: .zero)
        let a = plan(cfg, .empty(for: cfg), desired: [instance("a", "10.0.0.1")])
        let b = plan(cfg, a.slots, desired: [instance("b", "10.0.0.2")], at: t0 + 1)
        XCTAssertEqual(lines(b), [
            "set server web/slot1 state drain", "set server web/slot1 state maint",
            "set server web/slot1 addr 10.0.0.2 port 8080", "set weight web/slot1 1", "set server web/slot1 state ready",
        ])
    }

    func test_an_instance_re_registered_under_a_new_id_at_its_old_address_takes_its_draining_slot() throws {
        let cfg = Fixtures.backend(slots: 3)
        var haproxy = SimulatedHAProxy(backends: [cfg])
        let a = try serveAB(cfg, on: &haproxy)
        let gone = plan(cfg, a.slots, live: haproxy.live("web"), desired: [instance("b", "10.0.0.2")], at: t0 + 1)
        try playChecked(cfg, gone, on: &haproxy)
        XCTAssertEqual(slot(gone, 1)?.state, .draining)
        let back = plan(cfg, gone.slots, live: haproxy.live("web"), desired: [instance("a2", "10.0.0.1"), instance("b", "10.0.0.2")], at: t0 + 2)
        try playChecked(cfg, back, on: &haproxy)
        XCTAssertEqual(lines(back), ["set server web/slot1 state ready"])
        XCTAssertEqual(slot(back, 1)?.instanceID, "file/a2")
        XCTAssertEqual(slot(back, 1)?.state, .active)
    }

    func test_an_instance_re_registered_after_its_slot_was_freed_reaches_the_indexed_server() throws {
        let cfg = Fixtures.backend(slots: 3, drainTimeout: .zero)
        var haproxy = SimulatedHAProxy(backends: [cfg])
        let a = try serveAB(cfg, on: &haproxy)
        let freed = plan(cfg, a.slots, live: haproxy.live("web"), desired: [instance("b", "10.0.0.2")], at: t0 + 1)
        try playChecked(cfg, freed, on: &haproxy)
        XCTAssertEqual(haproxy.live("web")["slot1"]?.address, "127.0.0.1")
        // Before placeholders, slot1 kept 10.0.0.1 in maint and the newcomer on slot3 stayed out of the index.
        let back = plan(cfg, freed.slots, live: haproxy.live("web"), desired: [instance("b", "10.0.0.2"), instance("c", "10.0.0.3"), instance("z", "10.0.0.1")], at: t0 + 2)
        try playChecked(cfg, back, on: &haproxy)
        XCTAssertEqual(slot(back, 1)?.instanceID, "file/c", "new instances still take free slots in id order")
        XCTAssertEqual(slot(back, 3)?.instanceID, "file/z")
    }

    func test_an_instance_moving_onto_the_address_of_a_draining_slot_takes_that_slot() throws {
        let cfg = Fixtures.backend(slots: 3)
        var haproxy = SimulatedHAProxy(backends: [cfg])
        let a = try serveAB(cfg, on: &haproxy)
        let bGone = plan(cfg, a.slots, live: haproxy.live("web"), desired: [instance("a", "10.0.0.1")], at: t0 + 1)
        try playChecked(cfg, bGone, on: &haproxy)
        let moved = plan(cfg, bGone.slots, live: haproxy.live("web"), desired: [instance("a", "10.0.0.2")], sessions: ["slot2": 3], at: t0 + 2)
        try playChecked(cfg, moved, on: &haproxy)
        XCTAssertEqual(lines(moved), ["set server web/slot2 state ready", "set server web/slot1 state drain"])
        XCTAssertEqual(slot(moved, 2)?.instanceID, "file/a")
        XCTAssertEqual(slot(moved, 2)?.state, .active)
        XCTAssertEqual(slot(moved, 1)?.state, .draining, "the old address drains")
        XCTAssertNil(slot(moved, 1)?.instanceID, "an instance is never named on two slots")
    }

    func test_a_chain_of_moves_sets_each_address_only_after_its_holder_left_it() throws {
        let cfg = Fixtures.backend(slots: 3)
        var haproxy = SimulatedHAProxy(backends: [cfg])
        let a = try serveAB(cfg, on: &haproxy)
        // a moves to b's address while b moves to a new one: b's move must come first.
        let p = plan(cfg, a.slots, live: haproxy.live("web"), desired: [instance("a", "10.0.0.2"), instance("b", "10.0.0.3")], at: t0 + 1)
        XCTAssertEqual(lines(p), ["set server web/slot2 addr 10.0.0.3 port 8080", "set server web/slot1 addr 10.0.0.2 port 8080"])
        try playChecked(cfg, p, on: &haproxy)
        XCTAssertEqual(slot(p, 1)?.instanceID, "file/a", "both keep their slots")
    }

    /// A swap needs one server off its address for a moment: it leaves rotation first (a request sent to it meanwhile
    /// would reach 127.0.0.1:9) and comes back once at its new address.
    func test_two_instances_swapping_addresses_go_through_the_placeholder_once_out_of_rotation() throws {
        let cfg = Fixtures.backend(slots: 2)
        var haproxy = SimulatedHAProxy(backends: [cfg])
        let a = try serveAB(cfg, on: &haproxy)
        let p = plan(cfg, a.slots, live: haproxy.live("web"), desired: [instance("a", "10.0.0.2"), instance("b", "10.0.0.1")], at: t0 + 1)
        XCTAssertEqual(lines(p), [
            "set server web/slot2 state maint",
            "set server web/slot2 addr 127.0.0.1 port 9",
            "set server web/slot1 addr 10.0.0.2 port 8080",
            "set server web/slot2 addr 10.0.0.1 port 8080",
            "set server web/slot2 state ready",
        ])
        try playChecked(cfg, p, on: &haproxy)
    }

    /// An HAProxy reload from a managed file one batch behind left slot2 at slot1's address: slot2's repair goes
    /// first, so slot1's never needs the placeholder.
    func test_a_repair_onto_an_address_another_repair_frees_waits_for_it_instead_of_parking_that_server() throws {
        let cfg = Fixtures.backend(slots: 2)
        var haproxy = SimulatedHAProxy(backends: [cfg])
        let a = try serveAB(cfg, on: &haproxy)
        try haproxy.apply(.setState(backend: "web", server: "slot1", state: .maint))
        try haproxy.apply(.setAddress(backend: "web", server: "slot1", address: PlaceholderAddress.host, port: PlaceholderAddress.port))
        try haproxy.apply(.setAddress(backend: "web", server: "slot2", address: "10.0.0.1", port: 8080))
        let p = plan(cfg, a.slots, live: haproxy.live("web"), desired: [instance("a", "10.0.0.1"), instance("b", "10.0.0.2")], at: t0 + 1)
        XCTAssertEqual(lines(p), [
            "set server web/slot2 addr 10.0.0.2 port 8080",
            "set server web/slot1 addr 10.0.0.1 port 8080",
            "set server web/slot1 state ready",
        ])
        try playChecked(cfg, p, on: &haproxy)
        XCTAssertTrue(plan(cfg, p.slots, live: haproxy.live("web"), desired: [instance("a", "10.0.0.1"), instance("b", "10.0.0.2")], at: t0 + 2).isEmpty)
    }

    /// A newcomer's address is held by a serving slot that a stale reload left there: that server leaves rotation
    /// before it gives the address up, and its own repair brings it back to its instance's address and into rotation.
    func test_a_serving_server_freed_for_a_newcomer_leaves_rotation_first_and_returns_to_its_own_address() throws {
        let cfg = Fixtures.backend(slots: 2)
        var haproxy = SimulatedHAProxy(backends: [cfg])
        let a = plan(cfg, .empty(for: cfg), live: haproxy.live("web"), desired: [instance("a", "10.0.0.3")])
        try playChecked(cfg, a, on: &haproxy)
        try haproxy.apply(.setAddress(backend: "web", server: "slot1", address: "10.0.0.9", port: 8080))
        let desired = [instance("a", "10.0.0.3"), instance("n", "10.0.0.9")]
        let p = plan(cfg, a.slots, live: haproxy.live("web"), desired: desired, at: t0 + 1)
        XCTAssertEqual(lines(p), [
            "set server web/slot1 state maint",
            "set server web/slot1 addr 127.0.0.1 port 9",
            "set server web/slot2 addr 10.0.0.9 port 8080",
            "set server web/slot2 state ready",
            "set server web/slot1 addr 10.0.0.3 port 8080",
            "set server web/slot1 state ready",
        ])
        for c in p.commands {
            try haproxy.apply(c)
            XCTAssertEqual(haproxy.sharedAddresses("web"), [], "after \(c.line)")
            for server in haproxy.live("web").values where server.address == PlaceholderAddress.host && server.port == PlaceholderAddress.port {
                XCTAssertEqual(server.admin, .maint, "after \(c.line): \(server.name) at the placeholder in rotation")
            }
        }
        XCTAssertTrue(plan(cfg, p.slots, live: haproxy.live("web"), desired: desired, at: t0 + 2).isEmpty, "nothing left to repair")
    }

    func test_a_free_slot_of_an_older_table_still_at_its_address_is_reset_before_the_address_is_reused() throws {
        let cfg = Fixtures.backend(slots: 3)
        // Written by a version that left freed slots at their address in maint.
        let table = BackendSlots(backend: "web", slots: [
            active(1, "b", "10.0.0.2"),
            Slot(server: "slot2", number: 2, state: .free, address: "10.0.0.1", port: 8080),
            Slot(server: "slot3", number: 3, state: .free, address: "10.0.0.7", port: 8080),
        ])
        var live = Fixtures.freshLive(cfg)
        live["slot1"] = LiveServer(name: "slot1", address: "10.0.0.2", port: 8080, admin: .ready, weight: 1)
        live["slot2"] = LiveServer(name: "slot2", address: "10.0.0.1", port: 8080, admin: .maint, weight: 1)
        live["slot3"] = LiveServer(name: "slot3", address: "10.0.0.7", port: 8080, admin: .maint, weight: 1)
        var haproxy = SimulatedHAProxy(backends: [cfg])
        for (name, l) in live.sorted(by: { $0.key < $1.key }) {
            try haproxy.apply(.setAddress(backend: "web", server: name, address: l.address, port: l.port))
            try haproxy.apply(.setState(backend: "web", server: name, state: l.admin))
        }
        // a moves onto slot3's stale address; a newcomer comes back at slot2's.
        let p = plan(cfg, table, live: haproxy.live("web"), desired: [instance("b", "10.0.0.7"), instance("n", "10.0.0.1")])
        try playChecked(cfg, p, on: &haproxy)
        XCTAssertEqual(slot(p, 2)?.instanceID, "file/n", "the newcomer takes the free slot still at its address")
        XCTAssertEqual(lines(p).first, "set server web/slot3 addr 127.0.0.1 port 9")
        XCTAssertEqual(Set(p.slots.slots.filter { $0.state == .free }.map(\.server)), ["slot3"])
        XCTAssertNil(slot(p, 3)?.address)
    }
}
