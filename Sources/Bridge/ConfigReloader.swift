import DiscoveryCore
import Logging

/// Applies a re-read config to a running bridge: the reconciler takes the new backends, and the new providers and
/// their health bookkeeping replace the running set in one step.
///
/// A class, and described by its config path only: it holds the environment (credentials), and the service group
/// logs the services it runs.
final class ConfigReloader: Sendable, CustomStringConvertible {
    let configPath: String
    let factories: [any ProviderFactory]
    let environment: [String: String]
    let logger: Logger
    /// Restart-only keys keep these values.
    let initialConfig: BridgeConfig
    let reconciler: Reconciler
    let providers: ProviderSupervisor
    let metrics: BridgeMetrics

    init(configPath: String, factories: [any ProviderFactory], environment: [String: String], logger: Logger, initialConfig: BridgeConfig,
         reconciler: Reconciler, providers: ProviderSupervisor, metrics: BridgeMetrics) {
        self.configPath = configPath
        self.factories = factories
        self.environment = environment
        self.logger = logger
        self.initialConfig = initialConfig
        self.reconciler = reconciler
        self.providers = providers
        self.metrics = metrics
    }

    var description: String { "ConfigReloader(\(configPath))" }

    /// A valid config is applied without touching unchanged slots; an invalid one is rejected and the running one stays.
    func reload() async {
        let fresh: LoadedConfig
        do {
            fresh = try ConfigLoader(factories: factories, environment: environment, logger: logger).load(path: configPath)
        } catch {
            logger.error("config reload rejected; the running config stays", metadata: ["config": "\(configPath)", "error": "\(error)"])
            return
        }
        let old = initialConfig
        for (key, changed) in [
            ("haproxy.runtime_api", fresh.config.haproxy.runtimeAPI != old.haproxy.runtimeAPI),
            ("haproxy.timeout_ms", fresh.config.haproxy.timeout != old.haproxy.timeout),
            ("state_file", fresh.config.stateFile != old.stateFile),
            ("metrics.listen", fresh.config.metrics != old.metrics),
            ("haproxy.managed_config", fresh.config.haproxy.managedConfig != old.haproxy.managedConfig),
            ("haproxy.check_command", fresh.config.haproxy.checkCommand != old.haproxy.checkCommand),
            ("haproxy.master_cli", fresh.config.haproxy.masterCLI != old.haproxy.masterCLI),
            ("haproxy.reload_probe_interval", fresh.config.haproxy.reloadProbeInterval != old.haproxy.reloadProbeInterval),
        ] where changed {
            logger.warning("config key changed but only takes effect after a restart", metadata: ["key": "\(key)"])
        }
        var next = fresh.config
        next.haproxy.runtimeAPI = old.haproxy.runtimeAPI
        next.haproxy.timeout = old.haproxy.timeout
        next.stateFile = old.stateFile
        next.metrics = old.metrics
        // The managed config writer and the reload watcher were built from these at start.
        next.haproxy.managedConfig = old.haproxy.managedConfig
        next.haproxy.checkCommand = old.haproxy.checkCommand
        next.haproxy.masterCLI = old.haproxy.masterCLI
        next.haproxy.reloadProbeInterval = old.haproxy.reloadProbeInterval
        await reconciler.updateConfig(next)
        providers.replace(with: providers.providerSet.next(providers: fresh.providers, metrics: metrics))
        logger.notice("config reloaded", metadata: [
            "config": "\(configPath)", "backends": "\(next.backends.count)", "providers": "\(fresh.providers.map(\.name).joined(separator: ","))",
        ])
    }
}
