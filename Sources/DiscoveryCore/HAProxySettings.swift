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
    /// Runtime API connections a large batch may use at once (whole backends on each), when HAProxy runs that many
    /// threads or more (`haproxy.connections`).
    public var connections = defaultConnections
    /// The HAProxy config file the bridge keeps current (`haproxy.managed_config`): its backends as server lines,
    /// loaded by HAProxy with a second `-f`, so a reload or restart starts where the runtime left off. Nil: not written.
    public var managedConfig: String?
    /// Command run on every candidate managed file before it is installed; `{file}` stands for the candidate.
    public var checkCommand: [String]?
    /// HAProxy's master CLI (`-S`): a closed connection there is how a reload is noticed without polling.
    public var masterCLI: RuntimeEndpoint?
    /// Without a master CLI, how often a new stats-socket connection asks for HAProxy's pid to notice a reload.
    public var reloadProbeInterval: Duration

    /// The defaults, written once: the config loader and tests start from these.
    public static let defaultTimeout: Duration = .seconds(2)
    public static let defaultResyncInterval: Duration = .seconds(10)
    public static let defaultDrainCheckInterval: Duration = .seconds(1)
    public static let defaultRestartCheckInterval: Duration = .seconds(1)
    public static let defaultConnections = 2
    public static let defaultReloadProbeInterval: Duration = .milliseconds(100)

    public init(
        runtimeAPI: RuntimeEndpoint, timeout: Duration = defaultTimeout, resyncInterval: Duration = defaultResyncInterval,
        drainCheckInterval: Duration = defaultDrainCheckInterval, restartCheckInterval: Duration = defaultRestartCheckInterval,
        managedConfig: String? = nil, checkCommand: [String]? = nil, masterCLI: RuntimeEndpoint? = nil,
        reloadProbeInterval: Duration = defaultReloadProbeInterval
    ) {
        self.runtimeAPI = runtimeAPI
        self.timeout = timeout
        self.resyncInterval = resyncInterval
        self.drainCheckInterval = drainCheckInterval
        self.restartCheckInterval = restartCheckInterval
        self.managedConfig = managedConfig
        self.checkCommand = checkCommand
        self.masterCLI = masterCLI
        self.reloadProbeInterval = reloadProbeInterval
    }
}
