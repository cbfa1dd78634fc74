/// The planner's answer: actions to send, and the slot table once they succeed.
public struct BackendPlan: Sendable {
    public var backend: String
    public var commands: [SlotAction]
    public var slots: BackendSlots
    /// Desired instances that found no slot (slots exhausted and growth off or at `max_slots`).
    public var unslotted: [DesiredInstance]
    public var changes: [SlotChange]
    /// Template servers the config expects but HAProxy does not have (haproxy.cfg declares fewer slots).
    public var missingServers: [String]

    public var isEmpty: Bool { commands.isEmpty && changes.isEmpty }
}
