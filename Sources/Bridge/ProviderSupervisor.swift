import DiscoveryCore
import Logging
import ServiceLifecycle
import Synchronization

/// Runs the current `ProviderSet` (each provider a `ProviderService`) and swaps in the next one on reload.
///
/// Graceful shutdown cancels the providers; a swap cancels the old set and starts the new one. Readers of provider
/// health (watchdog, `/healthz`, metrics) always see the health of the set that is running.
public final class ProviderSupervisor: Service, Sendable {
    private let current: Mutex<ProviderSet>
    private let swaps: AsyncStream<Void>
    private let swapped: AsyncStream<Void>.Continuation
    private let makeSink: @Sendable (ProviderHealth) -> any ProviderSink
    private let logger: Logger

    /// `makeSink` builds the sink of one set: snapshots to the reconciler, answers to that set's health.
    public init(initial: ProviderSet, logger: Logger, makeSink: @escaping @Sendable (ProviderHealth) -> any ProviderSink) {
        current = Mutex(initial)
        (swaps, swapped) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.makeSink = makeSink
        self.logger = logger
    }

    /// The set running now.
    public var providerSet: ProviderSet { current.withLock { $0 } }

    /// Health of the set running now.
    public var health: ProviderHealth { providerSet.health }

    /// Replaces the running set in one step: its providers and their health together.
    public func replace(with next: ProviderSet) {
        current.withLock { $0 = next }
        swapped.yield()
    }

    public func run() async {
        await cancelWhenGracefulShutdown { await self.superviseSets() }
    }

    private func superviseSets() async {
        var iterator = swaps.makeAsyncIterator()
        while !Task.isCancelled {
            let set = providerSet
            let sink = makeSink(set.health)
            let swappedAgain: Bool = await withTaskGroup(of: Void.self) { group in
                for provider in set.providers {
                    let service = ProviderService(provider: provider, sink: sink, logger: logger)
                    group.addTask { await service.run() }
                }
                // Returns nil when cancelled (graceful shutdown); either way this set stops.
                let next: Void? = await iterator.next()
                group.cancelAll()
                return next != nil
            }
            if !swappedAgain { return }
        }
    }
}
