/// One HAProxy backend whose pre-allocated server slots the bridge fills.
public struct BackendConfig: Sendable {
    /// The HAProxy backend name.
    public var name: String
    /// Number of slots declared in haproxy.cfg (`server-template <prefix> 1-<slots>`).
    public var slots: Int
    public var serverPrefix: String
    /// Port for instances that carry none.
    public var port: Int?
    public var sources: [SourceSpec]
    public var health: HealthPolicy
    public var drainTimeout: Duration
    public var growth: GrowthPolicy
    /// Weight for instances that carry none.
    public var defaultWeight: Int
    /// Server keywords for rendered templates and `add server` (e.g. `check inter 2s`).
    public var serverOptions: String
    public var guardPolicy: GuardPolicy
    /// Session persistence that holds across both hosts of an HA pair (`none` by default).
    public var persistence: PersistencePolicy

    /// The defaults, written once: the config loader and tests start from these.
    public static let defaultServerPrefix = "slot"
    public static let defaultHealth: HealthPolicy = .passing
    public static let defaultDrainTimeout: Duration = .seconds(30)
    public static let defaultInstanceWeight = 1
    public static let defaultServerOptions = "check"

    public init(
        name: String, slots: Int, serverPrefix: String = defaultServerPrefix, port: Int? = nil, sources: [SourceSpec],
        health: HealthPolicy = defaultHealth, drainTimeout: Duration = defaultDrainTimeout, growth: GrowthPolicy = GrowthPolicy(),
        defaultWeight: Int = defaultInstanceWeight, serverOptions: String = defaultServerOptions, guardPolicy: GuardPolicy = GuardPolicy(),
        persistence: PersistencePolicy = .none
    ) {
        self.name = name
        self.slots = slots
        self.serverPrefix = serverPrefix
        self.port = port
        self.sources = sources
        self.health = health
        self.drainTimeout = drainTimeout
        self.growth = growth
        self.defaultWeight = defaultWeight
        self.serverOptions = serverOptions
        self.guardPolicy = guardPolicy
        self.persistence = persistence
    }

    /// The HAProxy server name of slot `n` (1-based), as `server-template` names it.
    public func serverName(_ n: Int) -> String { "\(serverPrefix)\(n)" }

    /// Whether `serverOptions` turns on health checks (dynamic servers need `enable health`).
    public var usesChecks: Bool {
        serverOptions.split(separator: " ").contains { $0 == "check" }
    }
}
