import DiscoveryCore

/// The sink one provider set publishes into: snapshots go to the reconciler, successes and failures to that set's
/// `ProviderHealth`.
public struct BridgeSink: ProviderSink {
    let reconciler: Reconciler
    let health: ProviderHealth

    public init(reconciler: Reconciler, health: ProviderHealth) {
        self.reconciler = reconciler
        self.health = health
    }

    /// The reconciler's thread: `publish` there enters the reconciler without a hand-off.
    public var publishExecutor: (any TaskExecutor)? { reconciler.taskExecutor }

    public func publish(_ update: ProviderUpdate) async {
        health.recordSuccess(update.provider)
        await reconciler.ingest(update)
    }

    public func reportSuccess(provider: String) async {
        health.recordSuccess(provider)
    }

    public func reportFailure(provider: String, error: String) async {
        health.recordFailure(provider, error: error)
    }

    public func reportMetrics(provider: String, _ metrics: [ProviderMetric]) async {
        health.recordMetrics(provider, metrics)
    }
}
