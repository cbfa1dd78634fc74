import Dispatch
import DiscoveryCore
import Logging
import ServiceLifecycle
import StateStore
import Synchronization

/// Writes the latest state document in the background, newest wins, so persisting never delays HAProxy updates.
///
/// A failed write (disk full, read-only folder) is logged once per outage, counted, and retried with backoff;
/// the bridge keeps serving from memory meanwhile. As a service it runs before the reconciler in the group, so
/// graceful shutdown reaches it last: the reconciler's final table is written before the process exits.
public final class StatePersister: Service, Sendable {
    private struct State {
        var latest: StateDocument?
        var written: StateDocument?
        var failing = false
        var lastError: String?
    }

    let store: StateStore
    let logger: Logger
    let metrics: BridgeMetrics
    private let state = Mutex(State())
    private let wakeup = Wakeup()
    private let queue = DispatchQueue(label: "discovery-bridge.state-persister")
    /// The encoded tables of the last write, reused for unchanged backends (touched on `queue` only).
    private let encodingCache = Mutex(StateStore.EncodingCache())

    public init(store: StateStore, logger: Logger, metrics: BridgeMetrics) {
        self.store = store
        self.logger = logger
        self.metrics = metrics
    }

    /// Queues `doc` for writing; an older queued document is dropped.
    public func submit(_ doc: StateDocument) {
        state.withLock { $0.latest = doc }
        wakeup.signal()
    }

    /// Whether the last write failed.
    public var isFailing: Bool { state.withLock { $0.failing } }

    /// Writes queued documents until graceful shutdown or cancellation, then writes the newest one once more.
    public func run() async {
        await WriteRetryLoop.run(wakeup: wakeup, pending: { [self] in hasPending }, write: { [self] in await writeLatest() })
    }

    private var hasPending: Bool { state.withLock { $0.latest != nil && $0.latest != $0.written } }

    /// Writes the newest queued document now (used at shutdown). Returns false when the write failed.
    @discardableResult
    public func flush() async -> Bool {
        await writeLatest()
    }

    private func writeLatest() async -> Bool {
        // The document is picked and written on one serial queue, so the background loop and a shutdown flush can
        // never finish out of order and leave an older table on disk.
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            queue.async { [self] in
                continuation.resume(returning: writeLatestNow())
            }
        }
    }

    /// Runs on `queue` only.
    private func writeLatestNow() -> Bool {
        guard let doc = state.withLock({ s -> StateDocument? in s.latest == s.written ? nil : s.latest }) else { return true }
        do {
            try encodingCache.withLock { (cache: inout StateStore.EncodingCache) throws(StateError) in try store.save(doc, cache: &cache) }
            let recovered = state.withLock { s -> Bool in
                s.written = doc
                let was = s.failing
                s.failing = false
                s.lastError = nil
                return was
            }
            metrics.count(.stateWrites)
            if recovered { logger.notice("state file writable again", metadata: ["state_file": "\(store.path)"]) }
            return true
        } catch {
            metrics.count(.stateWriteFailures)
            let first = state.withLock { s -> Bool in
                s.lastError = error.description
                let was = s.failing
                s.failing = true
                return !was
            }
            if first {
                logger.error("cannot write the state file; serving from memory and retrying", metadata: ["state_file": "\(store.path)", "error": "\(error)"])
            }
            return false
        }
    }
}
