/// A running watch of one discovery source.
///
/// `run` returns only when the task is cancelled (the stop signal); errors are reported to the sink and retried.
public protocol DiscoveryProvider: Sendable {
    var name: String { get }
    /// How long without a successful answer before discovery counts as stale (watchdog, `/healthz`).
    var stalenessLimit: Duration { get }
    func run(sink: any ProviderSink) async throws
}
