/// Builds a provider from its config block; one per provider kind, registered in the executable.
public protocol ProviderFactory: Sendable {
    /// The key under `providers` and the `provider` value of sources.
    var name: String { get }
    /// Validates `providers.<name>` (at `path`) and every source naming this provider, and builds the provider.
    /// Does no I/O beyond reading small local files the config names; errors name the JSON path.
    func makeProvider(config: JSONValue, path: String, sources: [SourceSpec], context: ProviderContext) throws(ConfigError) -> any DiscoveryProvider
}
