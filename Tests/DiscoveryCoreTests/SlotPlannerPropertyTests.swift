import DiscoveryCore
import HAProxyRuntime
import Foundation
import TestSupport
import XCTest

/// Random histories against a simulated HAProxy. Each history is replayable from its seed:
/// `PLANNER_SEED=<seed> swift test --filter DiscoveryCoreTests.SlotPlannerPropertyTests`.
final class SlotPlannerPropertyTests: XCTestCase {
    func test_random_histories_keep_every_planner_invariant() {
        let environment = ProcessInfo.processInfo.environment
        let count = environment["PLANNER_SEQUENCES"].flatMap(Int.init) ?? 600
        // Past the first `count`, the seeds of histories that once broke an invariant (a server in rotation parked at
        // the placeholder, a parked server left there) stay in every run.
        let seeds: [UInt64] = environment["PLANNER_SEED"].flatMap(UInt64.init).map { [$0] } ?? (1...UInt64(count)).map { $0 } + [693, 851, 1007, 4930, 6639]
        var stats = PlannerHistory.Stats()
        for seed in seeds {
            var history = PlannerHistory(seed: seed)
            if let failure = history.run(steps: 30) {
                XCTFail("planner invariant broken (replay: PLANNER_SEED=\(seed))\n\(failure)")
                return
            }
            stats.add(history.stats)
        }
        // The histories must actually exercise the interesting paths, or the invariants prove little.
        XCTAssertGreaterThan(stats.drained, 100, "\(stats)")
        XCTAssertGreaterThan(stats.freed, 100, "\(stats)")
        XCTAssertGreaterThan(stats.reactivated, 10, "\(stats)")
        XCTAssertGreaterThan(stats.grown, 20, "\(stats)")
        XCTAssertGreaterThan(stats.unslotted, 20, "\(stats)")
        XCTAssertGreaterThan(stats.restarts, 100, "\(stats)")
        XCTAssertGreaterThan(stats.tableLosses, 100, "\(stats)")
        XCTAssertGreaterThan(stats.adopted, 50, "\(stats)")
        XCTAssertGreaterThan(stats.readdedDynamic, 5, "\(stats)")
        XCTAssertGreaterThan(stats.staleReloads, 100, "\(stats)")
    }
}

/// One random history: a backend config, a discovery source that changes at random, HAProxy that restarts at random, and
/// a bridge that sometimes loses its table. Every step plans, applies the plan to the simulated HAProxy, and checks invariants.
struct PlannerHistory {
    struct Stats: CustomStringConvertible {
        var drained = 0, freed = 0, reactivated = 0, grown = 0, unslotted = 0, restarts = 0, tableLosses = 0, adopted = 0, readdedDynamic = 0
        var staleReloads = 0
        mutating func add(_ o: Stats) {
            drained += o.drained; freed += o.freed; reactivated += o.reactivated; grown += o.grown; unslotted += o.unslotted
            restarts += o.restarts; tableLosses += o.tableLosses; adopted += o.adopted; readdedDynamic += o.readdedDynamic
            staleReloads += o.staleReloads
        }
        var description: String {
            "drained=\(drained) freed=\(freed) reactivated=\(reactivated) grown=\(grown) unslotted=\(unslotted) restarts=\(restarts) tableLosses=\(tableLosses) adopted=\(adopted) readded=\(readdedDynamic) staleReloads=\(staleReloads)"
        }
    }

    let seed: UInt64
    var rng: SplitMix64
    let config: BackendConfig
    /// A second backend in the same HAProxy that the plans must never touch.
    let other: BackendConfig
    var haproxy: SimulatedHAProxy
    var table: BackendSlots
    /// The table before the last plan: what a managed file one batch behind declares.
    var olderTable: BackendSlots?
    var instances: [String: Instance] = [:]
    var now: Double = 1_700_000_000
    /// True after an HAProxy restart the planner has not seen yet (then live state must be passed).
    var liveChangedUnseen = false
    var trace: [String] = []
    var stats = Stats()

    static let addresses = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "fd00::1", "fd00::2"]
    static let ids = (0..<10).map { "i\($0)" }

    init(seed: UInt64) {
        self.seed = seed
        var rng = SplitMix64(seed: seed)
        let slots = rng.int(1...5)
        let growth = rng.chance(0.5)
            ? GrowthPolicy(mode: .addServer, increment: rng.int(1...3), maxSlots: slots + rng.int(0...5))
            : GrowthPolicy(mode: .none, increment: 10, maxSlots: 10_000)
        let health: HealthPolicy = [.passing, .passingOrWarning, .any][rng.int(0...2)]
        let drain: Duration = [.zero, .seconds(5), .seconds(30)][rng.int(0...2)]
        config = BackendConfig(
            name: "web", slots: slots, serverPrefix: "slot", port: rng.chance(0.8) ? 8080 : nil,
            sources: [SourceSpec(provider: "file", service: "web")], health: health, drainTimeout: drain, growth: growth,
            defaultWeight: rng.int(0...3), serverOptions: rng.chance(0.7) ? "check inter 2s" : ""
        )
        other = BackendConfig(name: "api", slots: 2, serverPrefix: "slot", sources: [SourceSpec(provider: "file", service: "api")])
        haproxy = SimulatedHAProxy(backends: [config, other])
        table = BackendSlots.empty(for: config)
        self.rng = rng
    }

    // MARK: random world

    mutating func randomInstance(id: String) -> Instance {
        let address = rng.chance(0.03) ? "web-\(id).local" : Self.addresses[rng.int(0...(Self.addresses.count - 1))]
        let port: Int? = rng.chance(0.3) ? nil : [80, 81][rng.int(0...1)]
        let weight: Int? = rng.chance(0.3) ? nil : rng.int(0...5)
        return Instance(id: id, address: address, port: port, weight: weight, health: randomHealth())
    }

    mutating func randomHealth() -> InstanceHealth {
        let r = rng.int(0...9)
        return r < 6 ? .passing : r < 8 ? .warning : r < 9 ? .critical : .maintenance
    }

    mutating func changeDiscovery() -> String {
        if rng.chance(0.04) { instances = [:]; return "empty answer" }
        var ops: [String] = []
        if rng.chance(0.06) {
            for id in Self.ids where instances[id] == nil { instances[id] = randomInstance(id: id) }
            ops.append("burst")
        }
        for _ in 0..<rng.int(0...3) {
            let id = Self.ids[rng.int(0...(Self.ids.count - 1))]
            guard var inst = instances[id] else {
                instances[id] = randomInstance(id: id)
                ops.append("+\(id)")
                continue
            }
            switch rng.int(0...4) {
            case 0: instances[id] = nil; ops.append("-\(id)")
            case 1: inst.weight = rng.chance(0.2) ? nil : rng.int(0...5); instances[id] = inst; ops.append("w(\(id))")
            case 2: inst.health = randomHealth(); instances[id] = inst; ops.append("h(\(id))=\(inst.health)")
            case 3:
                inst.address = Self.addresses[rng.int(0...(Self.addresses.count - 1))]
                if rng.chance(0.3) { inst.port = [80, 81][rng.int(0...1)] }
                instances[id] = inst
                ops.append("addr(\(id))")
            default:
                // Re-identified: the same endpoint comes back under a new id.
                let newID = Self.ids[rng.int(0...(Self.ids.count - 1))]
                if instances[newID] == nil {
                    instances[id] = nil
                    inst.id = newID
                    instances[newID] = inst
                    ops.append("rename(\(id)->\(newID))")
                }
            }
        }
        return ops.joined(separator: " ")
    }

    // MARK: the loop

    mutating func run(steps: Int) -> String? {
        trace.append("config: slots=\(config.slots) growth=\(config.growth) health=\(config.health) drain=\(config.drainTimeout) port=\(config.port.map(String.init) ?? "-") weight=\(config.defaultWeight) options=\"\(config.serverOptions)\"")
        for step in 0..<steps {
            if let failure = advance(step) {
                return (trace.suffix(12) + ["FAILED at step \(step):"] + failure).joined(separator: "\n")
            }
        }
        return nil
    }

    mutating func advance(_ step: Int) -> [String]? {
        var events: [String] = []
        events.append(changeDiscovery())
        now += Double(rng.int(0...12))
        if rng.chance(0.07) {
            haproxy.restart()
            liveChangedUnseen = true
            stats.restarts += 1
            events.append("HAPROXY RESTART")
        }
        if rng.chance(0.05), let file = olderTable {
            reloadFromFile(file)
            liveChangedUnseen = true
            stats.staleReloads += 1
            events.append("HAPROXY RELOAD FROM A MANAGED FILE ONE BATCH BEHIND")
        }
        if rng.chance(0.05) {
            table = TableAdoption.merge(config: config, table: nil, live: haproxy.live(config.name), now: now)
            stats.tableLosses += 1
            events.append("TABLE LOST (adopted from live)")
        }
        if rng.chance(0.03), let victim = table.slots.randomElement(using: &rng) {
            let admin: AdminState = [.ready, .drain, .maint][rng.int(0...2)]
            haproxy.tamper(backend: config.name, server: victim.server) { s in
                s.admin = admin
                s.weight = 7
            }
            liveChangedUnseen = true
            events.append("DRIFT on \(victim.server)")
        }
        // Sessions are measured for draining servers only, and not always.
        var sessions: [String: Int] = [:]
        for s in table.slots where s.state == .draining && rng.chance(0.6) { sessions[s.server] = rng.int(0...2) }

        let sourceReported = !rng.chance(0.05)
        let snapshots: [String: [Instance]] = sourceReported ? [config.sources[0].key: instances.values.sorted { $0.id < $1.id }] : [:]
        let desired = DesiredState.build(backend: config, snapshots: snapshots).instances
        let passLive = liveChangedUnseen || !rng.chance(0.1)
        let live = passLive ? haproxy.live(config.name) : nil
        if passLive { liveChangedUnseen = false }

        let input = PlannerInput(backend: config, slots: table, live: live, desired: desired, sessions: sessions, now: now)
        let plan = SlotPlanner.plan(input)
        trace.append("step \(step) t=\(now) [\(events.joined(separator: "; "))] live=\(passLive) desired=\(desired.map { $0.map { "\($0.id)@\($0.endpoint)w\($0.weight)" }.joined(separator: ",") } ?? "nil") sessions=\(sessions.sorted { $0.key < $1.key })")
        trace.append("  table in : \(Self.describe(table))")
        trace.append("  commands : \(plan.commands.map(\.line).joined(separator: " | "))")
        trace.append("  table out: \(Self.describe(plan.slots)) unslotted=\(plan.unslotted.map(\.id))")

        var failures: [String] = []
        func check(_ ok: Bool, _ message: @autoclosure () -> String) { if !ok { failures.append(message()) } }

        // Pure: the same input gives the same plan.
        let again = SlotPlanner.plan(input)
        check(again.commands == plan.commands && again.slots == plan.slots, "the same input gave a different plan")

        // Plans touch only their own backend.
        for c in plan.commands {
            check(c.backend == config.name, "command for another backend: \(c.line)")
            check(plan.slots.slots.contains { $0.server == c.server }, "command for a server not in the table: \(c.line)")
        }
        let otherBefore = haproxy.live(other.name)
        let sharedBefore = haproxy.sharedAddresses(config.name)
        for c in plan.commands {
            do {
                try haproxy.apply(c)
            } catch {
                failures.append("HAProxy rejected a command: \(error)")
                return failures
            }
            // A server is out of rotation before it moves to the placeholder: no request may reach 127.0.0.1:9.
            if case .setAddress(_, let server, PlaceholderAddress.host, PlaceholderAddress.port) = c {
                let admin = haproxy.live(config.name)[server]?.admin
                check(admin == .maint, "after \(c.line) \(server) is at the placeholder in \(admin.map { "\($0)" } ?? "-"), not maint")
            }
            // Not even between two commands may two servers share an address (HAProxy's index would keep the first).
            if c.changesAddress {
                let shared = haproxy.sharedAddresses(config.name)
                check(shared.isEmpty || shared == sharedBefore, "after \(c.line) several servers are at \(shared)")
            }
        }
        check(haproxy.live(other.name) == otherBefore, "the plan changed backend \(other.name)")

        for c in plan.changes {
            switch c.kind {
            case .draining: stats.drained += 1
            case .freed: stats.freed += 1
            case .reactivated: stats.reactivated += 1
            case .added: stats.grown += 1
            case .adopted: stats.adopted += 1
            case .repaired where c.detail == "re-added dynamic server": stats.readdedDynamic += 1
            default: break
            }
        }
        if !plan.unslotted.isEmpty { stats.unslotted += 1 }

        checkTable(plan, input: input, check: check)
        checkLiveMatchesTable(plan.slots, check: check)

        // Idempotence: planning again against the result changes nothing.
        let replan = SlotPlanner.plan(PlannerInput(
            backend: config, slots: plan.slots, live: haproxy.live(config.name), desired: desired, sessions: sessions, now: now
        ))
        check(replan.commands.isEmpty, "planning again sent commands: \(replan.commands.map(\.line))")
        check(replan.changes.isEmpty, "planning again reported changes: \(replan.changes)")
        check(replan.slots == plan.slots, "planning again changed the table: \(Self.describe(replan.slots))")

        olderTable = table
        table = plan.slots
        return failures.isEmpty ? nil : failures
    }

    /// An HAProxy reload whose new worker read the managed file while it was one batch behind: template servers
    /// as that table had them (the file's growth servers are left out: they vanish as in a restart).
    mutating func reloadFromFile(_ file: BackendSlots) {
        haproxy.restart()
        let templates = Set(haproxy.templates[config.name] ?? [])
        for s in file.slots where templates.contains(s.server) {
            switch s.state {
            case .active, .draining:
                guard let address = s.address, let port = s.port else { continue }
                haproxy.declare(backend: config.name, server: s.server, address: address, port: port,
                                admin: s.state == .active ? .ready : .drain, weight: s.weight)
            case .free:
                continue
            }
        }
    }

    func checkTable(_ plan: BackendPlan, input: PlannerInput, check: (Bool, @autoclosure () -> String) -> Void) {
        let out = plan.slots.slots
        check(Set(out.map(\.number)).count == out.count, "two slots share a number")
        check(Set(out.map(\.server)).count == out.count, "two slots share a server name")
        check(out.allSatisfy { $0.server == config.serverName($0.number) }, "a slot's server name does not match its number")
        check((1...config.slots).allSatisfy { n in out.contains { $0.number == n } }, "a template slot is missing from the table")

        // No instance on two slots.
        let held = out.filter { $0.state != .free }.compactMap(\.instanceID)
        check(Set(held).count == held.count, "an instance holds two slots: \(held.sorted())")
        check(out.allSatisfy { $0.state != .free || $0.instanceID == nil }, "a free slot still names an instance")
        check(out.allSatisfy { $0.state == .free || ($0.address != nil && $0.port != nil) }, "a used slot has no endpoint")
        check(out.allSatisfy { $0.state != .draining || $0.drainDeadline != nil }, "a draining slot has no deadline")

        // A draining slot is never reused before its sessions reach 0 or its deadline passes.
        for before in input.slots.slots where before.state == .draining {
            guard let after = out.first(where: { $0.number == before.number }) else { check(false, "slot \(before.server) vanished"); continue }
            let finished = input.sessions[before.server] == 0 || input.now >= (before.drainDeadline ?? input.now)
            if finished { continue }
            check(after.state != .free, "\(before.server) was freed while draining (sessions \(input.sessions[before.server].map(String.init) ?? "unknown"))")
            check(after.instanceID == before.instanceID || after.endpoint == before.endpoint,
                  "\(before.server) was reused while draining: \(before.instanceID ?? "-")@\(before.endpoint ?? "-") -> \(after.instanceID ?? "-")@\(after.endpoint ?? "-")")
        }
        // A served instance is never cut off without draining first.
        for before in input.slots.slots where before.state == .active {
            guard let after = out.first(where: { $0.number == before.number }) else { continue }
            let replaced = after.state == .free || (after.instanceID != before.instanceID && after.endpoint != before.endpoint)
            if replaced, input.live?[before.server] != nil || input.live == nil {
                check(plan.commands.contains(.setState(backend: config.name, server: before.server, state: .drain)),
                      "\(before.server) left active without a drain")
            }
        }

        guard let desired = input.desired else {
            // Nothing known: assignments stay as they are.
            for before in input.slots.slots where before.state == .active {
                let after = out.first { $0.number == before.number }
                check(after?.state == .active && after?.instanceID == before.instanceID, "\(before.server) changed while desired state was unknown")
            }
            check(plan.unslotted.isEmpty, "unslotted instances while desired state was unknown")
            return
        }
        // Every desired instance is served exactly as desired, unless no slot could be found for it.
        let unslotted = Set(plan.unslotted.map(\.id))
        for d in desired {
            if unslotted.contains(d.id) {
                check(!held.contains(d.id), "\(d.id) is both unslotted and on a slot")
                continue
            }
            let slots = out.filter { $0.state == .active && $0.instanceID == d.id }
            check(slots.count == 1, "\(d.id) is not served (on \(slots.count) active slots)")
            if let s = slots.first {
                check(s.address == d.address && s.port == d.port && s.weight == d.weight, "\(d.id) is served with stale endpoint or weight on \(s.server)")
            }
        }
        let desiredIDs = Set(desired.map(\.id))
        for s in out where s.state == .active {
            check(s.instanceID.map(desiredIDs.contains) ?? false, "\(s.server) serves \(s.instanceID ?? "nothing"), which is not desired")
        }
        if !unslotted.isEmpty {
            check(!out.contains { $0.state == .free }, "instances left unslotted while a slot is free")
            check(config.growth.mode == .none || out.count >= config.growth.maxSlots, "instances left unslotted while growth was possible")
        }
        let grew = plan.changes.contains { $0.kind == .added }
        check(!grew || (config.growth.mode == .addServer && out.count <= config.growth.maxSlots), "the backend grew beyond max_slots")
    }

    func checkLiveMatchesTable(_ table: BackendSlots, check: (Bool, @autoclosure () -> String) -> Void) {
        let live = haproxy.live(config.name)
        for s in table.slots {
            guard let l = live[s.server] else { check(false, "\(s.server) is in the table but not in HAProxy"); continue }
            switch s.state {
            case .free:
                check(l.admin == .maint, "free \(s.server) is \(l.admin) in HAProxy")
            case .active, .draining:
                check(l.admin == (s.state == .active ? .ready : .drain), "\(s.state) \(s.server) is \(l.admin) in HAProxy")
                check(l.address == s.address && l.port == s.port, "\(s.server) is at \(l.address):\(l.port) in HAProxy, \(s.endpoint ?? "-") in the table")
                check(l.weight == s.weight, "\(s.server) has weight \(l.weight) in HAProxy, \(s.weight) in the table")
            }
            if s.dynamic, !config.serverOptions.isEmpty, config.usesChecks {
                check(haproxy.healthEnabled.contains("\(config.name)/\(s.server)"), "dynamic \(s.server) has health checks off")
            }
        }
        for name in live.keys {
            check(table.slots.contains { $0.server == name }, "HAProxy has \(name), which the table does not know")
        }
        // A `srvkey addr` stick entry for a served address finds the server that serves it.
        let index = haproxy.addressIndex[config.name] ?? [:]
        for s in table.slots where s.state != .free {
            guard let ep = s.endpoint else { continue }
            check(index[ep] == s.server, "HAProxy's address index maps \(ep) to \(index[ep] ?? "nothing"), not to \(s.server)")
        }
        for s in table.slots where s.state == .free {
            check(s.address == nil && s.port == nil, "free \(s.server) still remembers an address")
            if let l = live[s.server] { check(l.address == "127.0.0.1" && l.port == 9, "free \(s.server) is at \(l.address):\(l.port), not the placeholder") }
        }
        let ready = Set(live.values.filter { $0.admin == .ready }.map(\.name))
        let active = Set(table.slots.filter { $0.state == .active }.map(\.server))
        check(ready == active, "ready servers \(ready.sorted()) != active slots \(active.sorted())")
    }

    static func describe(_ table: BackendSlots) -> String {
        table.slots.map { s in
            let what: String
            switch s.state {
            case .free: what = "free"
            case .active: what = "\(s.instanceID ?? "?")@\(s.endpoint ?? "-")w\(s.weight)"
            case .draining: what = "drain(\(s.instanceID ?? "?")@\(s.endpoint ?? "-") until \(s.drainDeadline.map { String(Int($0)) } ?? "-"))"
            }
            return "\(s.number)\(s.dynamic ? "d" : ""):\(what)"
        }.joined(separator: " ")
    }
}

extension SlotAction {
    var changesAddress: Bool {
        switch self {
        case .setAddress, .addServer: return true
        default: return false
        }
    }
}
