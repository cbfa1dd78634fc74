import DiscoveryCore
import FoundationEssentials
import HAProxyRuntime
import Logging
import ServiceLifecycle
import StateStore
import UnixSignals

/// The composition root: builds the whole bridge from a config file and the provider factories, and runs it as one
/// `ServiceGroup`. The daemon (`run`), the in-process tests, the drills and the bench all build the bridge here.
///
/// Services, in start order: state persister, managed config writer (with `haproxy.managed_config`), reconciler,
/// reload watcher, providers (the running `ProviderSet`), SIGHUP reload,
/// systemd notifier, metrics endpoint. Graceful shutdown (SIGTERM, SIGINT, or `shutdown()`) goes in reverse: the
/// endpoints close, providers stop, the reconciler finishes its batch in flight, and the persister writes the
/// final table last.
public final class BridgeAssembly: Sendable {
    /// How to build and run the bridge beyond its config.
    public struct Options: Sendable {
        /// Environment the providers are built in (credentials, tokens).
        public var environment: [String: String]
        /// systemd notifications; `SystemdNotifier(environment: [:])` for none.
        public var notifier: SystemdNotifier
        /// Trap SIGTERM/SIGINT (graceful shutdown) and SIGHUP (reload). Off for a bridge inside another process.
        public var trapSignals: Bool
        /// Builds the HAProxy connection; the default is a `RuntimeClient` on `haproxy.runtime_api`.
        public var haproxy: (@Sendable (BridgeConfig, Logger) -> any HAProxyControl)?
        public var wallClock: Reconciler.WallClock
        /// Runs after every batch that reached HAProxy (post-batch hook: managed config, benchmarks).
        public var afterBatch: @Sendable (AppliedBatch) -> Void
        /// Called with the metrics port once listening.
        public var onMetricsListening: @Sendable (Int) -> Void

        public init(
            environment: [String: String] = ProcessInfo.processInfo.environment, notifier: SystemdNotifier = SystemdNotifier(),
            trapSignals: Bool = true, haproxy: (@Sendable (BridgeConfig, Logger) -> any HAProxyControl)? = nil,
            wallClock: @escaping Reconciler.WallClock = { Date().timeIntervalSince1970 },
            afterBatch: @escaping @Sendable (AppliedBatch) -> Void = { _ in }, onMetricsListening: @escaping @Sendable (Int) -> Void = { _ in }
        ) {
            self.environment = environment
            self.notifier = notifier
            self.trapSignals = trapSignals
            self.haproxy = haproxy
            self.wallClock = wallClock
            self.afterBatch = afterBatch
            self.onMetricsListening = onMetricsListening
        }

        /// A bridge inside another process (tests, bench): no signals, no systemd.
        public static var inProcess: Options { Options(notifier: SystemdNotifier(environment: [:]), trapSignals: false) }
    }

    public let configPath: String
    public let factories: [any ProviderFactory]
    public let logger: Logger
    public let options: Options
    /// The config the bridge started with (restart-only keys keep these values across reloads).
    public let initialConfig: BridgeConfig
    public let metrics: BridgeMetrics
    public let persister: StatePersister
    public let reconciler: Reconciler
    public let providers: ProviderSupervisor
    let reloader: ConfigReloader
    let group: ServiceGroup

    /// Loads `configPath` with `factories` and builds the bridge.
    public convenience init(configPath: String, factories: [any ProviderFactory], logger: Logger, options: Options = Options()) throws(ConfigError) {
        let loaded = try ConfigLoader(factories: factories, environment: options.environment, logger: logger).load(path: configPath)
        self.init(loaded: loaded, factories: factories, logger: logger, options: options)
    }

    /// Builds the bridge from an already loaded config (whose `path` is re-read on reload).
    public init(loaded: LoadedConfig, factories: [any ProviderFactory], logger: Logger, options: Options = Options()) {
        let config = loaded.config
        configPath = loaded.path
        self.factories = factories
        self.logger = logger
        self.options = options
        initialConfig = config
        let metrics = BridgeMetrics()
        self.metrics = metrics
        let haproxy = options.haproxy?(config, logger)
            ?? RuntimeClient(endpoint: config.haproxy.runtimeAPI, timeout: config.haproxy.timeout, connections: config.haproxy.connections, logger: logger)
        let store = StateStore(path: config.stateFile)
        let persister = StatePersister(store: store, logger: logger, metrics: metrics)
        self.persister = persister
        let managedConfig = config.haproxy.managedConfig.map {
            ManagedConfigWriter(path: $0, checkCommand: config.haproxy.checkCommand, logger: logger, metrics: metrics)
        }
        let reconciler = Reconciler(config: config, haproxy: haproxy, store: store, persister: persister, logger: logger, metrics: metrics,
                                    wallClock: options.wallClock, afterBatch: options.afterBatch, managedConfig: managedConfig)
        self.reconciler = reconciler
        let initial = ProviderSet(providers: loaded.providers, health: ProviderHealth(providers: loaded.providers, metrics: metrics), generation: 0)
        let providers = ProviderSupervisor(initial: initial, logger: logger) { health in BridgeSink(reconciler: reconciler, health: health) }
        self.providers = providers

        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: persister)]
        // Before the reconciler, so it stops after it and writes the final table.
        if let managedConfig { services.append(.init(service: managedConfig)) }
        services += [
            .init(service: reconciler),
            .init(service: ReloadWatcher(settings: config.haproxy, logger: logger) { pid in await reconciler.reloadNoticed(workerPID: pid) }),
            .init(service: providers),
        ]
        let reloader = ConfigReloader(configPath: loaded.path, factories: factories, environment: options.environment, logger: logger,
                                  initialConfig: config, reconciler: reconciler, providers: providers, metrics: metrics)
        self.reloader = reloader
        if options.trapSignals { services.append(.init(service: ReloadService(reloader: reloader))) }
        services.append(.init(service: NotifierService(notifier: options.notifier, reconciler: reconciler, providers: providers, metrics: metrics, logger: logger)))
        if let listen = config.metrics {
            services.append(.init(service: MetricsServer(settings: listen, metrics: metrics, reconciler: reconciler, providers: providers,
                                                         logger: logger, onListening: options.onMetricsListening)))
        }
        var groupConfig = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: options.trapSignals ? [.sigterm, .sigint] : [], logger: logger)
        groupConfig.maximumGracefulShutdownDuration = .seconds(30)
        group = ServiceGroup(configuration: groupConfig)
    }

    /// Runs every service until graceful shutdown; the state file is written when it returns.
    public func run() async throws {
        let config = initialConfig
        logger.info("starting", metadata: [
            "config": "\(configPath)", "runtime_api": "\(config.haproxy.runtimeAPI)", "state_file": "\(config.stateFile)",
            "backends": "\(config.backends.map(\.name).joined(separator: ","))",
            "providers": "\(providers.providerSet.providers.map(\.name).joined(separator: ","))",
        ])
        try await group.run()
        logger.info("stopped; state written", metadata: ["state_file": "\(config.stateFile)"])
    }

    /// Stops the bridge as SIGTERM does (returns at once; `run` returns when done).
    public func shutdown() async {
        await group.triggerGracefulShutdown()
    }

    /// Re-reads the config file, as SIGHUP does (see `ConfigReloader`).
    public func reload() async { await reloader.reload() }
}
