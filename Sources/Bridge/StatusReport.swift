/// The document `GET /status` serves: slots, unslotted instances and guard holds per backend, provider health,
/// and whether the bridge is fresh.
public struct StatusReport: Codable, Sendable {
    /// One backend's part of the report.
    public struct Backend: Codable, Sendable {
        public var slots: [SlotStatus]
        public var unslotted: [String]
        public var guardHold: GuardHoldStatus?
    }

    /// One provider's health.
    public struct Provider: Codable, Sendable {
        public var successes: Int
        public var failures: Int
        public var secondsSinceSuccess: Double?
        public var lastError: String?
    }

    public var backends: [String: Backend]
    public var providers: [String: Provider]
    public var fresh: Bool
    /// Why the bridge is not fresh (absent when it is).
    public var problems: String?
    /// ISO 8601 time of the last reconciliation.
    public var lastSync: String?
}
