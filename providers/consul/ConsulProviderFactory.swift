import DiscoveryCore

/// Builds the Consul provider from `providers.consul` and the sources naming `consul`.
public struct ConsulProviderFactory: ProviderFactory {
    public let name = "consul"

    public init() {}

    public func makeProvider(config: JSONValue, path: String, sources: [SourceSpec], context: ProviderContext) throws(ConfigError) -> any DiscoveryProvider {
        let settings = try ConsulSettings.parse(config, path: path, context: context)
        var parsed: [ConsulSource] = []
        var seen: Set<String> = []
        for spec in sources where spec.provider == name {
            let source = try ConsulSource.parse(spec)
            if seen.insert(source.key).inserted { parsed.append(source) }
        }
        return ConsulProvider(settings: settings, sources: parsed, logger: context.logger)
    }
}
