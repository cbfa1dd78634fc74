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
    /// The managed HAProxy config writer, when `haproxy.managed_config` is set.
    public var managedConfig: ManagedConfig?

    /// How the managed config file is faring.
    public struct ManagedConfig: Codable, Sendable {
        public var path: String
        public var failing: Bool
        public var writes: Int
        public var failures: Int
        public var lastError: String?
        /// Unix time it was last found or made current.
        public var lastSuccess: Double?

        public init(_ writer: ManagedConfigWriter) {
            let st = writer.status
            path = writer.path
            failing = st.failing
            writes = st.writes
            failures = st.failures
            lastError = st.lastError
            lastSuccess = st.lastSuccess
        }
    }
}
