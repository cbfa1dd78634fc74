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
    /// Instances the provider wants to hear about once they take no traffic anywhere (nil: the previous watch stays).
    public var releaseWatch: ReleaseWatch?

    public init(provider: String, sources: [String: [Instance]], suspectReason: String? = nil, releaseWatch: ReleaseWatch? = nil) {
        self.provider = provider
        self.sources = sources
        self.suspectReason = suspectReason
        self.releaseWatch = releaseWatch
    }
}
