import DiscoveryCore
import HAProxyRuntime
import Logging
import ServiceLifecycle
import StateStore
import UnixSignals

/// Wires the long-running parts into one `ServiceGroup`: providers, the reconciler, config reload on SIGHUP.
///
/// SIGTERM/SIGINT stop the providers first, then let the reconciler finish its batch and write the state file.
public final class BridgeDaemon: Sendable {
    public typealias ConfigReader = @Sendable (String) throws -> LoadedConfig

    let loaded: LoadedConfig
    let configPath: String
    let logger: Logger
    let readConfig: ConfigReader
    public let reconciler: Reconciler
    public let health: ProviderHealth
    public let metrics = BridgeMetrics()
    let supervisor: ProviderSupervisor

    public init(loaded: LoadedConfig, configPath: String, logLevelOverride: String?, logger: Logger, readConfig: @escaping ConfigReader) {
        self.loaded = loaded
        self.configPath = configPath
        self.logger = logger
        self.readConfig = readConfig
        let config = loaded.config
        let client = RuntimeClient(endpoint: config.haproxy.runtimeAPI, timeout: config.haproxy.timeout, logger: logger)
        self.reconciler = Reconciler(config: config, haproxy: client, store: StateStore(path: config.stateFile), logger: logger, metrics: metrics)
        self.health = ProviderHealth(providers: loaded.providers)
        self.supervisor = ProviderSupervisor(providers: loaded.providers, sink: BridgeSink(reconciler: reconciler, health: health), logger: logger)
    }

    public func run() async throws {
        let config = loaded.config
        logger.info("starting", metadata: [
            "config": "\(configPath)", "runtime_api": "\(config.haproxy.runtimeAPI)", "state_file": "\(config.stateFile)",
            "backends": "\(config.backends.map(\.name).joined(separator: ","))",
            "providers": "\(loaded.providers.map(\.name).joined(separator: ","))",
        ])
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: ReconcilerService(reconciler: reconciler)),
            .init(service: supervisor),
            .init(service: ReloadService(daemon: self)),
            .init(service: NotifierService(notifier: SystemdNotifier(), reconciler: reconciler, health: health, logger: logger)),
        ]
        if let listen = config.metrics {
            services.append(.init(service: MetricsServer(settings: listen, metrics: metrics, reconciler: reconciler, health: health, logger: logger)))
        }
        let group = ServiceGroup(configuration: .init(
            services: services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
        try await group.run()
        logger.info("stopped; state written", metadata: ["state_file": "\(config.stateFile)"])
    }

    /// Re-reads the config: a valid one is applied without touching unchanged slots, an invalid one is rejected.
    func reload() async {
        do {
            let fresh = try readConfig(configPath)
            let old = await reconciler.config
            for (key, changed) in [
                ("haproxy.runtime_api", fresh.config.haproxy.runtimeAPI != old.haproxy.runtimeAPI),
                ("haproxy.timeout_ms", fresh.config.haproxy.timeout != old.haproxy.timeout),
                ("state_file", fresh.config.stateFile != old.stateFile),
                ("metrics.listen", fresh.config.metrics != old.metrics),
            ] where changed {
                logger.warning("config key changed but only takes effect after a restart", metadata: ["key": "\(key)"])
            }
            var next = fresh.config
            next.haproxy.runtimeAPI = old.haproxy.runtimeAPI
            next.haproxy.timeout = old.haproxy.timeout
            next.stateFile = old.stateFile
            next.metrics = old.metrics
            await reconciler.updateConfig(next)
            supervisor.replace(with: fresh.providers)
            logger.notice("config reloaded", metadata: ["config": "\(configPath)", "backends": "\(next.backends.count)"])
        } catch {
            logger.error("config reload rejected; the running config stays", metadata: ["config": "\(configPath)", "error": "\(error)"])
        }
    }
}

/// Listens for SIGHUP and reloads the config.
struct ReloadService: Service {
    let daemon: BridgeDaemon

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            await daemon.reload()
        }
    }
}
