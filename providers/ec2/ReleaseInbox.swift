import DiscoveryCore

/// Where the core's "no longer takes traffic anywhere" reaches a running EC2 provider: queued, never blocking the
/// reconciler, and consumed by the provider's own task.
final class ReleaseInbox: TrafficReleaseReceiver, Sendable {
    let stream: AsyncStream<[String]>
    private let continuation: AsyncStream<[String]>.Continuation

    init() {
        (stream, continuation) = AsyncStream<[String]>.makeStream(bufferingPolicy: .unbounded)
    }

    func noLongerServing(_ ids: [String]) {
        continuation.yield(ids)
    }

    func finish() {
        continuation.finish()
    }
}
