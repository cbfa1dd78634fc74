/// Where providers send snapshots and report whether their source is answering.
public protocol ProviderSink: Sendable {
    /// Delivers complete snapshots for some sources.
    func publish(_ update: ProviderUpdate) async
    /// Records a successful round trip to the source (also when nothing changed), for staleness checks.
    func reportSuccess(provider: String) async
    /// Records a failed round trip; the last good snapshot stays applied.
    func reportFailure(provider: String, error: String) async
}
