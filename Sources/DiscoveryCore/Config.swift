import Logging

/// Where the HAProxy Runtime API listens: `unix:/path` or `tcp:HOST:PORT`.
public enum RuntimeAPIAddress: Sendable, Hashable, CustomStringConvertible {
    case unix(path: String)
    case tcp(host: String, port: Int)

    /// Parses `unix:/run/haproxy/api.sock`, `tcp:127.0.0.1:9999` or `tcp:[::1]:9999`; a bare absolute path is a UNIX socket.
    public static func parse(_ text: String) -> RuntimeAPIAddress? {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            return path.isEmpty ? nil : .unix(path: path)
        }
        if text.hasPrefix("/") { return .unix(path: text) }
        if text.hasPrefix("tcp:") {
            let rest = text.dropFirst(4)
            guard let colon = rest.lastIndex(of: ":") else { return nil }
            var host = String(rest[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty, let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port) else { return nil }
            return .tcp(host: host, port: port)
        }
        return nil
    }

    public var description: String {
        switch self {
        case .unix(let path): return "unix:\(path)"
        case .tcp(let host, let port): return host.contains(":") ? "tcp:[\(host)]:\(port)" : "tcp:\(host):\(port)"
        }
    }
}

/// How to reach HAProxy and how often to re-read its live state.
public struct HAProxySettings: Sendable, Equatable {
    public var runtimeAPI: RuntimeAPIAddress
    /// Per-call timeout for the Runtime API (connect, write, read).
    public var timeout: Duration
    /// The slow timer that re-reads live state to catch an HAProxy restart or drift.
    public var resyncInterval: Duration
    /// How often sessions of draining slots are checked.
    public var drainCheckInterval: Duration
    /// How often HAProxy's pid is checked (`show info`, one command) to notice a restart between resyncs.
    public var restartCheckInterval: Duration

    public init(
        runtimeAPI: RuntimeAPIAddress, timeout: Duration = .seconds(2), resyncInterval: Duration = .seconds(10),
        drainCheckInterval: Duration = .seconds(1), restartCheckInterval: Duration = .seconds(1)
    ) {
        self.runtimeAPI = runtimeAPI
        self.timeout = timeout
        self.resyncInterval = resyncInterval
        self.drainCheckInterval = drainCheckInterval
        self.restartCheckInterval = restartCheckInterval
    }
}

/// Which instance health states a backend admits.
public enum HealthPolicy: String, Sendable, Hashable, Codable {
    case passing
    case passingOrWarning = "passing_or_warning"
    /// Every state but maintenance: HAProxy's own checks decide. Maintenance is an operator's explicit "out".
    case any

    public func admits(_ health: InstanceHealth) -> Bool {
        switch self {
        case .passing: return health == .passing
        case .passingOrWarning: return health == .passing || health == .warning
        case .any: return health != .maintenance
        }
    }
}

/// What to do when a backend's slots run out.
public struct GrowthPolicy: Sendable, Hashable {
    public enum Mode: String, Sendable, Hashable { case none, addServer = "add_server" }
    public var mode: Mode
    /// How many servers one growth step adds.
    public var increment: Int
    /// Upper bound on slots (configured plus added), so a runaway source cannot grow a backend without limit.
    public var maxSlots: Int

    public init(mode: Mode = .none, increment: Int = 10, maxSlots: Int = 10_000) {
        self.mode = mode
        self.increment = increment
        self.maxSlots = maxSlots
    }
}

/// Limits on destructive changes; a change beyond them is held rather than applied.
public struct GuardPolicy: Sendable, Hashable {
    /// A change removing more than this fraction of a backend's live servers at once is held.
    public var maxRemovedFraction: Double
    /// A change leaving fewer live servers than this is held.
    public var minServers: Int
    /// A held answer is applied once it has persisted this long.
    public var confirmAfter: Duration
    /// Whether a completely empty answer may ever be applied (after `confirmAfter`).
    public var allowEmpty: Bool

    public init(maxRemovedFraction: Double = 0.5, minServers: Int = 1, confirmAfter: Duration = .seconds(30), allowEmpty: Bool = false) {
        self.maxRemovedFraction = maxRemovedFraction
        self.minServers = minServers
        self.confirmAfter = confirmAfter
        self.allowEmpty = allowEmpty
    }
}

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

    public init(
        name: String, slots: Int, serverPrefix: String = "slot", port: Int? = nil, sources: [SourceSpec],
        health: HealthPolicy = .passing, drainTimeout: Duration = .seconds(30), growth: GrowthPolicy = GrowthPolicy(),
        defaultWeight: Int = 1, serverOptions: String = "check", guardPolicy: GuardPolicy = GuardPolicy(),
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

/// The metrics and health HTTP endpoint.
public struct MetricsSettings: Sendable, Equatable {
    public var host: String
    public var port: Int
}

/// The whole validated configuration. Provider blocks stay raw here: each provider validates its own.
public struct BridgeConfig: Sendable {
    public var haproxy: HAProxySettings
    public var stateFile: String
    public var providers: [String: JSONValue]
    public var backends: [BackendConfig]
    public var guardPolicy: GuardPolicy
    public var metrics: MetricsSettings?
    public var logLevel: Logger.Level?
    /// How long to wait after a change for more changes before applying (coalescing bursts).
    public var coalesce: Duration

    public init(
        haproxy: HAProxySettings, stateFile: String, providers: [String: JSONValue], backends: [BackendConfig],
        guardPolicy: GuardPolicy = GuardPolicy(), metrics: MetricsSettings? = nil, logLevel: Logger.Level? = nil,
        coalesce: Duration = .milliseconds(2)
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
