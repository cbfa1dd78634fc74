/// The document `status --json` prints: the slot table from the state file, guard holds, and whether HAProxy
/// answered (each row then carries HAProxy's state of its server).
public struct SlotTableReport: Codable, Sendable {
    public var slots: [SlotStatus]
    public var guardHolds: [String: GuardHoldStatus]
    public var haproxyReachable: Bool

    public init(slots: [SlotStatus], guardHolds: [String: GuardHoldStatus], haproxyReachable: Bool) {
        self.slots = slots
        self.guardHolds = guardHolds
        self.haproxyReachable = haproxyReachable
    }
}
