import FoundationEssentials
import Logging

/// Reads, validates and builds a configuration. Every error names the JSON path (and the file).
public struct ConfigLoader: Sendable {
    public var factories: [any ProviderFactory]
    public var environment: [String: String]
    public var logger: Logger

    public init(factories: [any ProviderFactory], environment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger) {
        self.factories = factories
        self.environment = environment
        self.logger = logger
    }

    /// Loads the file at `path`.
    public func load(path: String) throws(ConfigError) -> LoadedConfig {
        let bytes: [UInt8]
        switch FileBytes.read(path) {
        case .success(let read): bytes = read
        case .failure(let failure): throw ConfigError(path: "", "cannot read the config file: \(failure.text)", file: path)
        }
        let directory = FileBytes.folder(of: path)
        do {
            return try load(bytes: bytes, configDirectory: directory.isEmpty ? "." : directory, path: path)
        } catch {
            var e = error
            e.file = path
            throw e
        }
    }

    /// Loads a config document given as bytes; relative paths resolve against `configDirectory`.
    public func load(bytes: [UInt8], configDirectory: String, path: String = "<config>") throws(ConfigError) -> LoadedConfig {
        let document: JSONValue
        do {
            document = try JSONValue.parse(bytes: bytes)
        } catch {
            throw ConfigError(path: "", "not valid JSON: \(error)")
        }
        let config = try Self.parse(document, factories: factories.map(\.name), configDirectory: configDirectory)
        var providers: [any DiscoveryProvider] = []
        for name in config.providers.keys.sorted() {
            guard let factory = factories.first(where: { $0.name == name }), let block = config.providers[name] else { continue }
            let sources = Self.uniqueSources(config.backends.flatMap(\.sources).filter { $0.provider == name })
            let context = ProviderContext(environment: environment, logger: logger.withProvider(name), configDirectory: configDirectory)
            providers.append(try factory.makeProvider(config: block, path: "providers.\(name)", sources: sources, context: context))
        }
        return LoadedConfig(config: config, providers: providers, path: path)
    }

    /// One source per key, in first-seen order.
    static func uniqueSources(_ sources: [SourceSpec]) -> [SourceSpec] {
        var seen = Set<String>()
        return sources.filter { seen.insert($0.key).inserted }
    }

    /// Validates the core of the document (everything but the inside of provider blocks and source options).
    public static func parse(_ document: JSONValue, factories: [String], configDirectory: String = ".") throws(ConfigError) -> BridgeConfig {
        var root = try ObjectReader(document, at: "")

        // haproxy
        guard var hx = try root.object("haproxy") else { throw ConfigError(path: "haproxy", "is required") }
        let apiText = try hx.requireString("runtime_api")
        guard let api = RuntimeEndpoint.parse(apiText) else {
            throw ConfigError(path: "haproxy.runtime_api", "expected \"unix:/path/to/socket\" or \"tcp:HOST:PORT\", got \"\(apiText)\"")
        }
        let timeoutMs = try hx.int("timeout_ms", in: 1...600_000, describe: "a timeout in milliseconds between 1 and 600000")
        let resync = try hx.duration("resync_interval") ?? HAProxySettings.defaultResyncInterval
        guard resync >= .milliseconds(100) else { throw ConfigError(path: "haproxy.resync_interval", "must be at least 100ms") }
        let drainCheck = try hx.duration("drain_check_interval") ?? HAProxySettings.defaultDrainCheckInterval
        guard drainCheck >= .milliseconds(50) else { throw ConfigError(path: "haproxy.drain_check_interval", "must be at least 50ms") }
        let restartCheck = try hx.duration("restart_check_interval") ?? HAProxySettings.defaultRestartCheckInterval
        guard restartCheck >= .milliseconds(50) else { throw ConfigError(path: "haproxy.restart_check_interval", "must be at least 50ms") }
        let connections = try hx.int("connections", in: 1...2, describe: "1 or 2") ?? HAProxySettings.defaultConnections
        let managed = try parseManaged(&hx, configDirectory: configDirectory)
        try hx.finish()
        var haproxy = HAProxySettings(
            runtimeAPI: api, timeout: timeoutMs.map { .milliseconds($0) } ?? HAProxySettings.defaultTimeout, resyncInterval: resync, drainCheckInterval: drainCheck,
            restartCheckInterval: restartCheck, managedConfig: managed.file, checkCommand: managed.check,
            masterCLI: managed.masterCLI, reloadProbeInterval: managed.probe
        )
        haproxy.connections = connections

        // state_file
        let stateFile = try root.nonEmptyString("state_file") ?? BridgeConfig.defaultStateFile

        // providers: names must be known; the blocks are validated by their factories.
        var providers: [String: JSONValue] = [:]
        if var p = try root.object("providers") {
            for name in p.values.keys.sorted() {
                guard let block = p.raw(name) else { continue }
                guard factories.contains(name) else {
                    throw ConfigError(path: "providers.\(name)", "unknown provider (known: \(factories.sorted().joined(separator: ", ")))")
                }
                guard case .object = block else {
                    throw ConfigError(path: "providers.\(name)", "expected an object, got \(block.shortDescription)")
                }
                providers[name] = block
            }
            try p.finish()
        }

        // guard (global defaults; a backend may override any key)
        let globalGuard: GuardPolicy
        if var g = try root.object("guard") {
            globalGuard = try parseGuard(&g, base: GuardPolicy())
        } else {
            globalGuard = GuardPolicy()
        }

        // backends
        guard let backendValues = try root.array("backends") else { throw ConfigError(path: "backends", "is required") }
        guard !backendValues.isEmpty else { throw ConfigError(path: "backends", "must list at least one backend") }
        var backends: [BackendConfig] = []
        var names = Set<String>()
        for (i, value) in backendValues.enumerated() {
            let path = "backends[\(i)]"
            let backend = try parseBackend(value, path: path, providers: providers, globalGuard: globalGuard, configDirectory: configDirectory)
            guard names.insert(backend.name).inserted else {
                throw ConfigError(path: "\(path).name", "duplicate backend \"\(backend.name)\"")
            }
            backends.append(backend)
        }

        // metrics
        var metrics: MetricsSettings?
        if var m = try root.object("metrics") {
            if let listen = try m.string("listen") {
                guard let parsed = parseListen(listen) else {
                    throw ConfigError(path: "metrics.listen", "expected \"HOST:PORT\" such as \"127.0.0.1:9105\", got \"\(listen)\"")
                }
                metrics = parsed
            }
            try m.finish()
        }

        var logLevel: Logger.Level?
        if let level = try root.oneOf("log_level", Logger.Level.allCases.map(\.rawValue)) {
            logLevel = Logger.Level(rawValue: level)
        }
        let coalesce: Duration
        switch root.raw("coalesce") {
        case nil, .string("adaptive")?: coalesce = BridgeConfig.defaultCoalesce
        case let value?:
            guard let text = value.stringValue, let d = DurationText.parse(text) else {
                throw ConfigError(path: "coalesce", "expected \"adaptive\" or a duration such as \"2ms\", got \(value.shortDescription)")
            }
            coalesce = d
        }
        guard coalesce <= .seconds(5) else { throw ConfigError(path: "coalesce", "must be at most 5s") }
        try root.finish()

        return BridgeConfig(
            haproxy: haproxy, stateFile: resolve(stateFile, against: configDirectory), providers: providers, backends: backends,
            guardPolicy: globalGuard, metrics: metrics, logLevel: logLevel, coalesce: coalesce
        )
    }

    /// Resolves a relative path against the config file's folder.
    public static func resolve(_ path: String, against directory: String) -> String {
        if path.hasPrefix("/") { return path }
        return directory == "." || directory.isEmpty ? path : "\(directory)/\(path)"
    }

    /// `haproxy.managed_config`, `haproxy.check_command`, `haproxy.master_cli`, `haproxy.reload_probe_interval`.
    static func parseManaged(_ hx: inout ObjectReader, configDirectory: String) throws(ConfigError)
        -> (file: String?, check: [String]?, masterCLI: RuntimeEndpoint?, probe: Duration) {
        let file = try hx.nonEmptyString("managed_config").map { resolve($0, against: configDirectory) }
        if let file, file.hasSuffix("/") {
            throw ConfigError(path: "haproxy.managed_config", "expected a file path, got the folder \"\(file)\"")
        }
        let check = try hx.stringArray("check_command")
        if let check {
            guard let first = check.first, !first.isEmpty else {
                throw ConfigError(path: "haproxy.check_command", "expected the command and its arguments, e.g. [\"haproxy\", \"-c\", \"-f\", \"/etc/haproxy/haproxy.cfg\", \"-f\", \"{file}\"]")
            }
            guard check.contains(where: { $0.contains("{file}") }) else {
                throw ConfigError(path: "haproxy.check_command", "no argument contains {file} (the candidate managed file), so the check would not see it")
            }
            guard file != nil else { throw ConfigError(path: "haproxy.check_command", "needs haproxy.managed_config (the file it checks)") }
        }
        var masterCLI: RuntimeEndpoint?
        if let text = try hx.string("master_cli") {
            guard let parsed = RuntimeEndpoint.parse(text) else {
                throw ConfigError(path: "haproxy.master_cli", "expected \"unix:/run/haproxy-master.sock\" or \"tcp:HOST:PORT\", got \"\(text)\"")
            }
            masterCLI = parsed
        }
        let probe = try hx.duration("reload_probe_interval") ?? HAProxySettings.defaultReloadProbeInterval
        guard probe >= .milliseconds(20) else { throw ConfigError(path: "haproxy.reload_probe_interval", "must be at least 20ms") }
        return (file, check, masterCLI, probe)
    }

    static func parseListen(_ text: String) -> MetricsSettings? {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        return MetricsSettings(host: host.isEmpty ? "0.0.0.0" : host, port: port)
    }

    static func parseGuard(_ g: inout ObjectReader, base: GuardPolicy) throws(ConfigError) -> GuardPolicy {
        var policy = base
        if let f = try g.double("max_removed_fraction", in: 0...1, describe: "a fraction between 0 and 1") { policy.maxRemovedFraction = f }
        if let m = try g.int("min_servers", in: 0...1_000_000, describe: "a non-negative integer") { policy.minServers = m }
        if let c = try g.duration("confirm_after") { policy.confirmAfter = c }
        if let a = try g.bool("allow_empty") { policy.allowEmpty = a }
        try g.finish()
        return policy
    }

    /// HAProxy identifiers: letters, digits, `-`, `_`, `.` and `:`.
    static func isHAProxyIdentifier(_ s: String) -> Bool {
        !s.isEmpty && s.unicodeScalars.allSatisfy { $0.isASCIIAlphanumeric || "-_.:".unicodeScalars.contains($0) }
    }

    static func parseBackend(_ value: JSONValue, path: String, providers: [String: JSONValue], globalGuard: GuardPolicy, configDirectory: String = ".") throws(ConfigError) -> BackendConfig {
        var b = try ObjectReader(value, at: path)
        let name = try b.requireString("name")
        guard isHAProxyIdentifier(name) else {
            throw ConfigError(path: "\(path).name", "expected an HAProxy backend name (letters, digits, '-', '_', '.', ':'), got \"\(name)\"")
        }
        guard let slots = try b.positiveInt("slots") else { throw ConfigError(path: "\(path).slots", "is required") }
        guard slots <= 100_000 else { throw ConfigError(path: "\(path).slots", "expected at most 100000 slots, got \(slots)") }
        let prefix = try b.string("server_prefix") ?? BackendConfig.defaultServerPrefix
        guard isHAProxyIdentifier(prefix), !(prefix.last?.isNumber ?? false) else {
            throw ConfigError(path: "\(path).server_prefix", "expected an HAProxy server name prefix not ending in a digit, got \"\(prefix)\"")
        }
        let port = try b.int("port", in: 1...65535, describe: "a port between 1 and 65535")
        let health = try b.oneOf("health", ["passing", "passing_or_warning", "any"]).flatMap(HealthPolicy.init(rawValue:)) ?? BackendConfig.defaultHealth
        let drainTimeout = try b.duration("drain_timeout") ?? BackendConfig.defaultDrainTimeout
        let defaultWeight = try b.int("default_weight", in: 0...256, describe: "a weight between 0 and 256") ?? BackendConfig.defaultInstanceWeight
        let serverOptions = try b.string("server_options") ?? BackendConfig.defaultServerOptions
        guard !serverOptions.contains("\n"), !serverOptions.contains(";") else {
            throw ConfigError(path: "\(path).server_options", "must not contain a newline or ';'")
        }

        var growth = GrowthPolicy(maxSlots: max(slots, GrowthPolicy.defaultMaxSlots))
        if var g = try b.object("growth") {
            if let mode = try g.oneOf("mode", ["none", "add_server"]) { growth.mode = GrowthPolicy.Mode(rawValue: mode) ?? .none }
            if let inc = try g.int("increment", in: 1...10_000, describe: "an integer between 1 and 10000") { growth.increment = inc }
            if let maxSlots = try g.int("max_slots", in: slots...100_000, describe: "an integer between slots (\(slots)) and 100000") { growth.maxSlots = maxSlots }
            try g.finish()
        }

        var guardPolicy = globalGuard
        if var g = try b.object("guard") {
            guardPolicy = try parseGuard(&g, base: globalGuard)
        }

        let persistence = try b.raw("persistence").map { v throws(ConfigError) in
            try PersistencePolicy.parse(v, at: b.pathOf("persistence"), configDirectory: configDirectory)
        } ?? .none

        guard let sourceValues = try b.array("sources") else { throw ConfigError(path: "\(path).sources", "is required") }
        guard !sourceValues.isEmpty else { throw ConfigError(path: "\(path).sources", "must list at least one source") }
        var sources: [SourceSpec] = []
        for (j, sv) in sourceValues.enumerated() {
            let sp = "\(path).sources[\(j)]"
            var s = try ObjectReader(sv, at: sp)
            let provider = try s.requireString("provider")
            guard providers[provider] != nil else {
                throw ConfigError(path: "\(sp).provider", "provider \"\(provider)\" is not configured under \"providers\"")
            }
            let service = try s.requireString("service")
            guard !service.isEmpty else { throw ConfigError(path: "\(sp).service", "must not be empty") }
            var options: [String: JSONValue] = [:]
            for key in s.unusedKeys { options[key] = s.values[key] }
            sources.append(SourceSpec(provider: provider, service: service, options: options, path: sp))
        }
        try b.finish()

        return BackendConfig(
            name: name, slots: slots, serverPrefix: prefix, port: port, sources: sources, health: health,
            drainTimeout: drainTimeout, growth: growth, defaultWeight: defaultWeight, serverOptions: serverOptions,
            guardPolicy: guardPolicy, persistence: persistence
        )
    }
}

extension Logger {
    /// A copy of the logger that tags every line with the provider's name.
    public func withProvider(_ name: String) -> Logger {
        var copy = self
        copy[metadataKey: "provider"] = .string(name)
        return copy
    }
}
