import DiscoveryCore

/// Plans several backends from the bridge's inputs; shared by the reconciler and the `plan` dry run.
public enum Planning {
    /// A backend's plan with the desired state and guard verdict it was built from.
    public struct Item: Sendable {
        public var desired: DesiredBackend
        public var plan: BackendPlan
        /// The guard hold in force after this plan, if any.
        public var hold: GuardHold?
        /// A previously held change was applied in this plan.
        public var guardReleased: Bool
    }

    /// Plans `backends`. `holds` are the guard holds in force; `suspect` maps source keys to the reason a provider
    /// distrusts its latest answer.
    public static func plan(
        backends: [BackendConfig], tables: [String: BackendSlots], live: [String: [String: LiveServer]],
        snapshots: [String: [Instance]], sessions: [String: [String: Int]], holds: [String: GuardHold] = [:],
        suspect: [String: String] = [:], now: Double
    ) -> [Item] {
        backends.map { backend in
            plan(backend: backend, table: tables[backend.name], live: live[backend.name] ?? [:], snapshots: snapshots,
                 sessions: sessions[backend.name] ?? [:], hold: holds[backend.name], suspect: suspect, now: now)
        }
    }

    /// Plans one backend: desired state, guard, slot planner. Pure, so it may run wherever its commands are sent from.
    public static func plan(
        backend: BackendConfig, table: BackendSlots?, live liveServers: [String: LiveServer], snapshots: [String: [Instance]],
        sessions: [String: Int], hold previous: GuardHold?, suspect: [String: String], now: Double
    ) -> Item {
        let desired = DesiredState.build(backend: backend, snapshots: snapshots)
        let table = TableAdoption.merge(config: backend, table: table, live: liveServers, now: now)
        var wanted = desired.instances
        var hold: GuardHold?
        var released = false
        if let instances = desired.instances {
            let suspectReason = backend.sources.compactMap { suspect[$0.key] }.first
            let decision = DestructiveChangeGuard.evaluate(
                served: DestructiveChangeGuard.served(by: table), desired: instances, policy: backend.guardPolicy,
                previous: previous, suspectReason: suspectReason, now: now
            )
            wanted = decision.desired
            hold = decision.hold
            released = decision.released
        }
        let plan = SlotPlanner.plan(PlannerInput(backend: backend, slots: table, live: liveServers, desired: wanted, sessions: sessions, now: now))
        return Item(desired: desired, plan: plan, hold: hold, guardReleased: released)
    }
}
