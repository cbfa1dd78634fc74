import DiscoveryCore

/// Plans several backends from the bridge's inputs; shared by the reconciler and the `plan` dry run.
public enum Planning {
    /// A backend's plan with the desired state it was built from.
    public struct Item: Sendable {
        public var desired: DesiredBackend
        public var plan: BackendPlan
    }

    public static func plan(
        backends: [BackendConfig], tables: [String: BackendSlots], live: [String: [String: LiveServer]],
        snapshots: [String: [Instance]], sessions: [String: [String: Int]], now: Double
    ) -> [Item] {
        backends.map { backend in
            let desired = DesiredState.build(backend: backend, snapshots: snapshots)
            let liveServers = live[backend.name] ?? [:]
            let table = TableAdoption.merge(config: backend, table: tables[backend.name], live: liveServers, now: now)
            let plan = SlotPlanner.plan(PlannerInput(
                backend: backend, slots: table, live: liveServers, desired: desired.instances,
                sessions: sessions[backend.name] ?? [:], now: now
            ))
            return Item(desired: desired, plan: plan)
        }
    }
}
