import DiscoveryCore
import HAProxyRuntime
import Foundation
import TestSupport
import XCTest

/// Two bridges of an HA pair, each with its own HAProxy, fed the same sequence of snapshots: their slot tables stay
/// identical, so slot names (stats, dashboards, name-keyed persistence) agree between the hosts.
final class SlotPlannerPairTests: XCTestCase {
    /// One host of the pair: its HAProxy, its table, and its own randomness (restarts, snapshot order, live reads).
    struct Host {
        var haproxy: SimulatedHAProxy
        var table: BackendSlots
        var rng: SplitMix64
        var liveUnseen = false
    }

    func test_two_bridges_fed_the_same_snapshots_have_identical_tables_after_1000_random_changes() throws {
        let seeds: [UInt64] = ProcessInfo.processInfo.environment["PAIR_SEED"].flatMap(UInt64.init).map { [$0] } ?? Array(1...6)
        for seed in seeds {
            // The world (instances and their changes) comes from the planner's random histories.
            var world = PlannerHistory(seed: seed)
            let cfg = world.config
            var hosts = [UInt64(1), 2].map { k in
                Host(haproxy: SimulatedHAProxy(backends: [cfg]), table: .empty(for: cfg), rng: SplitMix64(seed: seed &* 7919 &+ k))
            }
            var sessionsRNG = SplitMix64(seed: seed &+ 99)
            var changes = 0, restarts = 0, step = 0, assigned = 0
            while changes < 1000 {
                step += 1
                let ops = world.changeDiscovery()
                changes += max(1, ops.split(separator: " ").count)
                world.now += Double(sessionsRNG.int(0...12))
                // Sessions of draining servers: the same on both hosts (a drain that ends at different times on the two
                // hosts is the one way their tables may legitimately differ; see the README's HA-pair guide).
                var sessions: [String: Int] = [:]
                for s in hosts[0].table.slots where s.state == .draining && sessionsRNG.chance(0.6) { sessions[s.server] = sessionsRNG.int(0...2) }
                var plans: [BackendPlan] = []
                for h in hosts.indices {
                    if hosts[h].rng.chance(0.05) {
                        hosts[h].haproxy.restart()
                        hosts[h].liveUnseen = true
                        restarts += 1
                    }
                    // Each provider lists the instances in its own order.
                    var listed = world.instances.values.sorted { $0.id < $1.id }
                    listed.shuffle(using: &hosts[h].rng)
                    let desired = DesiredState.build(backend: cfg, snapshots: [cfg.sources[0].key: listed]).instances
                    let passLive = hosts[h].liveUnseen || hosts[h].rng.chance(0.7)
                    if passLive { hosts[h].liveUnseen = false }
                    let plan = SlotPlanner.plan(PlannerInput(
                        backend: cfg, slots: hosts[h].table, live: passLive ? hosts[h].haproxy.live(cfg.name) : nil,
                        desired: desired, sessions: sessions, now: world.now
                    ))
                    try hosts[h].haproxy.apply(plan.commands)
                    hosts[h].table = plan.slots
                    plans.append(plan)
                    assigned += plan.changes.filter { $0.kind == .assigned }.count
                }
                guard hosts[0].table == hosts[1].table else {
                    XCTFail("""
                        seed \(seed) step \(step) after \(changes) changes [\(ops)]: the tables differ (replay: PAIR_SEED=\(seed))
                        A: \(PlannerHistory.describe(hosts[0].table))
                        B: \(PlannerHistory.describe(hosts[1].table))
                        """)
                    return
                }
            }
            XCTAssertGreaterThan(restarts, 5, "the hosts restarted independently (seed \(seed))")
            XCTAssertGreaterThan(assigned, 40, "the history assigned slots (seed \(seed))")
        }
    }
}
