/// What the bridge intends a slot to be doing.
public enum SlotState: String, Sendable, Hashable, Codable {
    /// No instance; the server sits in `maint` and may be assigned.
    case free
    /// Serving an instance (`ready`).
    case active
    /// Its instance is gone; `drain` until sessions reach 0 or the drain timeout passes. Never reused meanwhile.
    case draining
}
