import DiscoveryCore

/// One generation of providers with the health bookkeeping built for exactly them; a reload swaps both at once.
public struct ProviderSet: Sendable {
    public let providers: [any DiscoveryProvider]
    public let health: ProviderHealth
    /// Counts reloads: 0 for the set the bridge started with.
    public let generation: Int

    public init(providers: [any DiscoveryProvider], health: ProviderHealth, generation: Int) {
        self.providers = providers
        self.health = health
        self.generation = generation
    }

    /// The set that follows `self` on a reload: `providers` with health built for them (history kept by name).
    public func next(providers: [any DiscoveryProvider], metrics: BridgeMetrics?) -> ProviderSet {
        ProviderSet(providers: providers, health: ProviderHealth(providers: providers, previous: health, metrics: metrics), generation: generation + 1)
    }
}
