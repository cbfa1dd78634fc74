/// Everything the planner needs about one backend. Pure data: no clock, no I/O.
public struct PlannerInput: Sendable {
    public var backend: BackendConfig
    /// The slot table as the bridge last left it.
    public var slots: BackendSlots
    /// HAProxy's live servers by name, or nil when unknown (then the table is assumed to be live).
    public var live: [String: LiveServer]?
    /// The instances the backend should serve, or nil when not yet known (assignments are then kept as they are).
    public var desired: [DesiredInstance]?
    /// Current sessions of draining servers, by server name, when measured.
    public var sessions: [String: Int]
    /// Wall-clock seconds (Unix time).
    public var now: Double

    public init(backend: BackendConfig, slots: BackendSlots, live: [String: LiveServer]?, desired: [DesiredInstance]?, sessions: [String: Int] = [:], now: Double) {
        self.backend = backend
        self.slots = slots
        self.live = live
        self.desired = desired
        self.sessions = sessions
        self.now = now
    }
}
