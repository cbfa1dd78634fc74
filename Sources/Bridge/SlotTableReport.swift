/// The document `status --json` prints: the slot table from the state file, guard holds, and whether HAProxy
/// answered (each row then carries HAProxy's state of its server).
public struct SlotTableReport: Codable, Sendable {
    public var slots: [SlotStatus]
    public var guardHolds: [String: GuardHoldStatus]
    public var haproxyReachable: Bool
    /// Whether the managed HAProxy config file matches the table (absent without `haproxy.managed_config`).
    public var managedConfig: ManagedConfigStatus.Report?
    /// The bridge binary that printed it (absent in documents from versions before 0.1.0, which `--compare` reads too).
    public var bridge: BridgeVersion?

    public init(slots: [SlotStatus], guardHolds: [String: GuardHoldStatus], haproxyReachable: Bool, managedConfig: ManagedConfigStatus.Report? = nil,
                bridge: BridgeVersion? = .current) {
        self.slots = slots
        self.guardHolds = guardHolds
        self.haproxyReachable = haproxyReachable
        self.managedConfig = managedConfig
        self.bridge = bridge
    }
}
