import Logging

/// What one backend source asks of a provider: a service and provider-specific selectors.
///
/// Sources with the same provider, service and options share one `key`, so one watch serves them all.
public struct SourceSpec: Sendable, Hashable {
    /// The provider's registered name (`file`, `consul`, `ec2`).
    public var provider: String { didSet { key = Self.key(provider, service, options) } }
    /// The service name as the provider knows it.
    public var service: String { didSet { key = Self.key(provider, service, options) } }
    /// Provider-specific keys of the source object (everything but `provider` and `service`), as written.
    public var options: [String: JSONValue] { didSet { key = Self.key(provider, service, options) } }
    /// JSON path of the source in the config, for error messages.
    public var path: String
    /// Stable identity of what is watched: provider, service and options in canonical form. Stored, because it
    /// keys every snapshot lookup.
    public private(set) var key: String

    public init(provider: String, service: String, options: [String: JSONValue] = [:], path: String = "") {
        self.provider = provider
        self.service = service
        self.options = options
        self.path = path
        self.key = Self.key(provider, service, options)
    }

    static func key(_ provider: String, _ service: String, _ options: [String: JSONValue]) -> String {
        if options.isEmpty { return "\(provider):\(service)" }
        return "\(provider):\(service):\(JSONValue.object(options).serialized())"
    }

    public static func == (a: SourceSpec, b: SourceSpec) -> Bool { a.key == b.key }
    public func hash(into hasher: inout Hasher) { hasher.combine(key) }
}

/// A provider's report: the complete, current instance list for each listed source.
///
/// Sources not listed keep what they had: a provider that fails publishes nothing, so the last good
/// snapshot stays applied.
public struct ProviderUpdate: Sendable {
    public var provider: String
    /// Complete instance lists keyed by `SourceSpec.key`.
    public var sources: [String: [Instance]]
    /// Set when the provider has reason to distrust this answer (e.g. Consul reports no known leader);
    /// a destructive change from a suspect answer is held by the guard whatever its size.
    public var suspectReason: String?

    public init(provider: String, sources: [String: [Instance]], suspectReason: String? = nil) {
        self.provider = provider
        self.sources = sources
        self.suspectReason = suspectReason
    }
}

/// Where providers send snapshots and report whether their source is answering.
public protocol ProviderSink: Sendable {
    /// Delivers complete snapshots for some sources.
    func publish(_ update: ProviderUpdate) async
    /// Records a successful round trip to the source (also when nothing changed), for staleness checks.
    func reportSuccess(provider: String) async
    /// Records a failed round trip; the last good snapshot stays applied.
    func reportFailure(provider: String, error: String) async
    /// Reports figures the provider measures about its own traffic (connections open, refusals), exported as
    /// metrics by the bridge. Each call carries the current value of every figure it names.
    func reportMetrics(provider: String, _ metrics: [ProviderMetric]) async
}

extension ProviderSink {
    /// Sinks that export no metrics ignore them.
    public func reportMetrics(provider: String, _ metrics: [ProviderMetric]) async {}
}

/// One figure a provider measures about itself, named as it is exported (`discovery_bridge_consul_connections`).
public struct ProviderMetric: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// A value that goes up and down.
        case gauge
        /// A running total since the provider started (only grows).
        case counter
    }

    public var name: String
    public var help: String
    public var kind: Kind
    public var labels: [String: String]
    public var value: Double

    public init(name: String, help: String, kind: Kind, labels: [String: String] = [:], value: Double) {
        self.name = name
        self.help = help
        self.kind = kind
        self.labels = labels
        self.value = value
    }
}

/// A running watch of one discovery source.
///
/// `run` returns only when the task is cancelled (the stop signal); errors are reported to the sink and retried.
public protocol DiscoveryProvider: Sendable {
    var name: String { get }
    /// How long without a successful answer before discovery counts as stale (watchdog, `/healthz`).
    var stalenessLimit: Duration { get }
    func run(sink: any ProviderSink) async throws
}

/// The environment a provider is built in, passed explicitly so tests can control it.
public struct ProviderContext: Sendable {
    public var environment: [String: String]
    public var logger: Logger
    /// Folder of the config file, for resolving relative paths.
    public var configDirectory: String

    public init(environment: [String: String], logger: Logger, configDirectory: String) {
        self.environment = environment
        self.logger = logger
        self.configDirectory = configDirectory
    }
}

/// Builds a provider from its config block; one per provider kind, registered in the executable.
public protocol ProviderFactory: Sendable {
    /// The key under `providers` and the `provider` value of sources.
    var name: String { get }
    /// Validates `providers.<name>` (at `path`) and every source naming this provider, and builds the provider.
    /// Does no I/O beyond reading small local files the config names; errors name the JSON path.
    func makeProvider(config: JSONValue, path: String, sources: [SourceSpec], context: ProviderContext) throws(ConfigError) -> any DiscoveryProvider
}
