/// How to reach HAProxy and how often to re-read its live state.
public struct HAProxySettings: Sendable, Equatable {
    public var runtimeAPI: RuntimeEndpoint
    /// Per-call timeout for the Runtime API (connect, write, read).
    public var timeout: Duration
    /// The slow timer that re-reads live state to catch an HAProxy restart or drift.
    public var resyncInterval: Duration
    /// How often sessions of draining slots are checked.
    public var drainCheckInterval: Duration
    /// How often HAProxy's pid is checked (`show info`, one command) to notice a restart between resyncs.
    public var restartCheckInterval: Duration

    /// The defaults, written once: the config loader and tests start from these.
    public static let defaultTimeout: Duration = .seconds(2)
    public static let defaultResyncInterval: Duration = .seconds(10)
    public static let defaultDrainCheckInterval: Duration = .seconds(1)
    public static let defaultRestartCheckInterval: Duration = .seconds(1)

    public init(
        runtimeAPI: RuntimeEndpoint, timeout: Duration = defaultTimeout, resyncInterval: Duration = defaultResyncInterval,
        drainCheckInterval: Duration = defaultDrainCheckInterval, restartCheckInterval: Duration = defaultRestartCheckInterval
    ) {
        self.runtimeAPI = runtimeAPI
        self.timeout = timeout
        self.resyncInterval = resyncInterval
        self.drainCheckInterval = drainCheckInterval
        self.restartCheckInterval = restartCheckInterval
    }
}
