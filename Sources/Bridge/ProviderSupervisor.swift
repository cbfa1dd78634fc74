import DiscoveryCore
import Logging
import ServiceLifecycle
import Synchronization

/// Runs every provider until shutdown, restarting one that returns or throws, and swaps the set on config reload.
public final class ProviderSupervisor: Service, Sendable {
    private let current: Mutex<(providers: [any DiscoveryProvider], generation: Int)>
    private let sink: any ProviderSink
    private let logger: Logger
    private let wakeup = Wakeup()
    private let shuttingDown = Atomic<Bool>(false)

    public init(providers: [any DiscoveryProvider], sink: any ProviderSink, logger: Logger) {
        self.current = Mutex((providers, 0))
        self.sink = sink
        self.logger = logger
    }

    /// Replaces the running providers (config reload): the old ones are cancelled, the new ones started.
    public func replace(with providers: [any DiscoveryProvider]) {
        current.withLock { $0 = (providers, $0.generation + 1) }
        wakeup.signal()
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            while !Task.isCancelled, !shuttingDown.load(ordering: .relaxed) {
                let (providers, generation) = current.withLock { $0 }
                await withTaskGroup(of: Void.self) { group in
                    for provider in providers {
                        group.addTask { await self.supervise(provider) }
                    }
                    // Wait for a replacement or cancellation, then stop this generation.
                    while !Task.isCancelled, !shuttingDown.load(ordering: .relaxed), current.withLock({ $0.generation }) == generation {
                        await wakeup.wait(until: nil)
                    }
                    group.cancelAll()
                }
            }
        } onGracefulShutdown: {
            self.shuttingDown.store(true, ordering: .relaxed)
            self.wakeup.signal()
        }
    }

    private func supervise(_ provider: any DiscoveryProvider) async {
        var backoff = Backoff(base: .milliseconds(500), cap: .seconds(30))
        while !Task.isCancelled {
            do {
                try await provider.run(sink: sink)
                if Task.isCancelled { return }
                logger.warning("provider stopped unexpectedly; restarting", metadata: ["provider": "\(provider.name)"])
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                await sink.reportFailure(provider: provider.name, error: "\(error)")
                logger.error("provider failed; restarting", metadata: ["provider": "\(provider.name)", "error": "\(error)"])
            }
            try? await Task.sleep(for: backoff.next())
        }
    }
}

/// The reconciler as a lifecycle service: graceful shutdown finishes the batch in flight and writes the state.
public struct ReconcilerService: Service {
    let reconciler: Reconciler

    public init(reconciler: Reconciler) { self.reconciler = reconciler }

    public func run() async throws {
        await withGracefulShutdownHandler {
            await reconciler.run()
        } onGracefulShutdown: {
            reconciler.stop()
        }
    }
}
