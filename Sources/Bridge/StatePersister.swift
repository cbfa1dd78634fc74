import Dispatch
import DiscoveryCore
import Logging
import StateStore
import Synchronization

/// Writes the latest state document in the background, newest wins, so persisting never delays HAProxy updates.
///
/// A failed write (disk full, read-only folder) is logged once per outage, counted, and retried with backoff;
/// the bridge keeps serving from memory meanwhile.
final class StatePersister: Sendable {
    private struct State {
        var latest: StateDocument?
        var written: StateDocument?
        var failing = false
        var failures = 0
        var writes = 0
        var lastError: String?
    }

    let store: StateStore
    let logger: Logger
    private let state = Mutex(State())
    private let wakeup = Wakeup()
    private let queue = DispatchQueue(label: "discovery-bridge.state-persister")

    init(store: StateStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    /// Queues `doc` for writing; an older queued document is dropped.
    func submit(_ doc: StateDocument) {
        state.withLock { $0.latest = doc }
        wakeup.signal()
    }

    var isFailing: Bool { state.withLock { $0.failing } }
    var counters: (writes: Int, failures: Int, lastError: String?) { state.withLock { ($0.writes, $0.failures, $0.lastError) } }

    /// Writes queued documents until cancelled.
    func run() async {
        var backoff = Backoff(base: .milliseconds(500), cap: .seconds(30))
        var retryAt: ContinuousClock.Instant?
        while !Task.isCancelled {
            await wakeup.wait(until: retryAt)
            if Task.isCancelled { break }
            if let r = retryAt, ContinuousClock.now < r { continue }
            if await writeLatest() {
                backoff.reset()
                retryAt = nil
            } else {
                retryAt = .now + backoff.next()
            }
        }
    }

    /// Writes the newest queued document now (used at shutdown). Returns false when the write failed.
    @discardableResult
    func flush() async -> Bool {
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
            try store.save(doc)
            let recovered = state.withLock { s -> Bool in
                s.written = doc
                s.writes += 1
                let was = s.failing
                s.failing = false
                s.lastError = nil
                return was
            }
            if recovered { logger.notice("state file writable again", metadata: ["state_file": "\(store.path)"]) }
            return true
        } catch {
            let first = state.withLock { s -> Bool in
                s.failures += 1
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
