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
    /// Where a provider's loop that only hands updates to `publish` should run (nil: anywhere). The bridge names
    /// the reconciler's thread, so an update reaches the reconcile step without one more thread wake-up.
    var publishExecutor: (any TaskExecutor)? { get }
}

extension ProviderSink {
    /// Sinks that export no metrics ignore them.
    public func reportMetrics(provider: String, _ metrics: [ProviderMetric]) async {}

    /// No preference.
    public var publishExecutor: (any TaskExecutor)? { nil }
}
