import DiscoveryCore
import ServiceLifecycle

/// The loop both background writers (the state file, the managed HAProxy config) run: write the newest queued
/// item when woken, retry a failed write with backoff, and write once more after graceful shutdown.
enum WriteRetryLoop {
    /// Runs until graceful shutdown or cancellation. `pending` says whether something is queued (or a failed write
    /// is due again); `write` writes the newest item and returns false when that failed.
    static func run(wakeup: Wakeup, pending: @escaping @Sendable () -> Bool, write: @escaping @Sendable () async -> Bool) async {
        await withGracefulShutdownHandler {
            var backoff = Backoff(base: .milliseconds(500), cap: .seconds(30))
            var retryAt: ContinuousClock.Instant?
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                if let r = retryAt, ContinuousClock.now < r {
                    await wakeup.wait(until: r)
                    continue
                }
                if !pending() {
                    await wakeup.wait(until: nil)
                    continue
                }
                if await write() {
                    backoff.reset()
                    retryAt = nil
                } else {
                    retryAt = .now + backoff.next()
                }
            }
        } onGracefulShutdown: {
            wakeup.signal()
        }
        _ = await write()
    }
}
