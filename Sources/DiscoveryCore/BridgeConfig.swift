import Logging

/// The whole validated configuration. Provider blocks stay raw here: each provider validates its own.
public struct BridgeConfig: Sendable {
    public var haproxy: HAProxySettings
    public var stateFile: String
    public var providers: [String: JSONValue]
    public var backends: [BackendConfig]
    public var guardPolicy: GuardPolicy
    public var metrics: MetricsSettings?
    public var logLevel: Logger.Level?
    /// How long to wait after a change for more changes before applying; zero (`"adaptive"`, the default) applies
    /// the first change after a quiet period at once, and what arrives while a batch is planned or sent goes out as
    /// the next batch, so a burst still leaves in few batches.
    public var coalesce: Duration

    /// The defaults, written once: the config loader and tests start from these.
    public static let defaultStateFile = "/var/lib/discovery-bridge/state.json"
    public static let defaultCoalesce: Duration = .zero

    public init(
        haproxy: HAProxySettings, stateFile: String, providers: [String: JSONValue], backends: [BackendConfig],
        guardPolicy: GuardPolicy = GuardPolicy(), metrics: MetricsSettings? = nil, logLevel: Logger.Level? = nil,
        coalesce: Duration = defaultCoalesce
    ) {
        self.haproxy = haproxy
        self.stateFile = stateFile
        self.providers = providers
        self.backends = backends
        self.guardPolicy = guardPolicy
        self.metrics = metrics
        self.logLevel = logLevel
        self.coalesce = coalesce
    }

    public func backend(named name: String) -> BackendConfig? {
        backends.first { $0.name == name }
    }
}
