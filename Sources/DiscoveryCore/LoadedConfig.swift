/// A validated configuration with its providers built and ready to run.
public struct LoadedConfig: Sendable {
    public var config: BridgeConfig
    public var providers: [any DiscoveryProvider]
    /// The file it came from.
    public var path: String
}
