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
