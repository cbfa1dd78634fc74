import Dispatch
import DiscoveryCore
import FoundationEssentials
import Logging
import ServiceLifecycle
import StateStore
import Synchronization

/// Keeps the managed HAProxy config file (`haproxy.managed_config`) current: after every applied batch the reconciler
/// hands it the slot tables; it renders, validates and installs them in the background, newest wins.
///
/// Installing is atomic (temp file, fsync, check, rename, fsync of the folder), so a reload at any instant reads a
/// complete file at most one batch behind. A candidate that fails the structural check or `haproxy.check_command`,
/// or cannot be written (folder unwritable, disk full), is never installed: the last good file stays, the failure is
/// logged (once per distinct error), counted, shown by `status`, and retried with backoff until it clears.
public final class ManagedConfigWriter: Service, Sendable {
    /// What `status`, `/status` and the metrics report.
    public struct Status: Sendable {
        public var writes = 0
        public var failures = 0
        public var failing = false
        public var lastError: String?
        /// Unix time of the last successful install (or of finding the file already current).
        public var lastSuccess: Double?
    }

    private struct State {
        var latest: (config: BridgeConfig, tables: [String: BackendSlots], generation: Int)?
        var generation = 0
        var handled = 0
        var onDisk: String?
        var status = Status()
    }

    public let path: String
    let check: CheckCommand?
    let logger: Logger
    let metrics: BridgeMetrics?
    private let state = Mutex(State())
    private let wakeup = Wakeup()
    private let queue = DispatchQueue(label: "discovery-bridge.managed-config")

    public init(path: String, checkCommand: [String]?, logger: Logger, metrics: BridgeMetrics? = nil) {
        self.path = path
        self.metrics = metrics
        self.check = checkCommand.map { CheckCommand(arguments: $0) }
        self.logger = logger
    }

    /// Queues the tables for writing; an older queued set is dropped. Cheap: rendering happens on the writer's queue.
    public func submit(config: BridgeConfig, tables: [String: BackendSlots]) {
        state.withLock { s in
            s.generation += 1
            s.latest = (config, tables, s.generation)
        }
        wakeup.signal()
    }

    public var status: Status { state.withLock { $0.status } }

    /// Writes queued tables until graceful shutdown or cancellation, then the newest once more (it stops after
    /// the reconciler, which hands over its final table).
    public func run() async {
        await WriteRetryLoop.run(wakeup: wakeup, pending: { [self] in hasPending }, write: { [self] in await writeLatest() })
    }

    /// Tables newer than the last handled ones are queued, or the last write failed and is due again.
    private var hasPending: Bool {
        state.withLock { s in s.latest.map { $0.generation != s.handled || s.status.failing } ?? false }
    }

    /// Writes the newest queued tables now (at shutdown). Returns false when that failed.
    @discardableResult
    public func flush() async -> Bool { await writeLatest() }

    private func writeLatest() async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            queue.async { [self] in continuation.resume(returning: writeLatestNow()) }
        }
    }

    /// Runs on `queue` only, so installs never overlap or finish out of order.
    private func writeLatestNow() -> Bool {
        guard let (config, tables, generation, onDisk) = state.withLock({ s -> (BridgeConfig, [String: BackendSlots], Int, String?)? in
            guard let l = s.latest, l.generation != s.handled || s.status.failing else { return nil }
            return (l.config, l.tables, l.generation, s.onDisk)
        }) else { return true }
        let text = ManagedConfigRenderer.render(config, tables: tables)
        let current = onDisk ?? (try? String(contentsOfFile: path, encoding: .utf8))
        do {
            if current != text {
                try install(text, config: config, tables: tables)
            }
            let recovered = state.withLock { s -> String? in
                s.handled = max(s.handled, generation)
                s.onDisk = text
                if current != text { s.status.writes += 1 }
                s.status.lastSuccess = Date().timeIntervalSince1970
                defer { s.status.failing = false; s.status.lastError = nil }
                return s.status.failing ? s.status.lastError : nil
            }
            if current != text { metrics?.count(.managedConfigWrites) }
            if let was = recovered {
                logger.notice("managed HAProxy config written again", metadata: ["managed_config": "\(path)", "previous_error": "\(was)"])
            }
            return true
        } catch {
            let message = "\(error)"
            let changed = state.withLock { s -> Bool in
                s.status.failures += 1
                s.status.failing = true
                defer { s.status.lastError = message }
                return s.status.lastError != message
            }
            metrics?.count(.managedConfigFailures)
            if changed {
                logger.error("managed HAProxy config not updated; the last good file stays, the runtime is current; retrying",
                             metadata: ["managed_config": "\(path)", "error": "\(message)"])
            }
            return false
        }
    }

    private func install(_ text: String, config: BridgeConfig, tables: [String: BackendSlots]) throws(ManagedConfigError) {
        var expected: [String: Int] = [:]
        for backend in config.backends {
            expected[backend.name] = ManagedConfigRenderer.completeSlots(backend, tables[backend.name]).count
        }
        try ManagedConfigValidator.validate(text, expected: expected)
        let check = self.check
        var checkError: ManagedConfigError?
        do {
            try AtomicFile.write(Data(text.utf8), to: path, mode: 0o644, createFolder: false) { (candidate: String) throws(StateError) in
                do throws(ManagedConfigError) {
                    try check?.run(candidate: candidate)
                } catch {
                    checkError = error
                    throw StateError.invalid(path: candidate, message: "\(error)")
                }
            }
        } catch {
            if let checkError { throw checkError }
            throw ManagedConfigError("\(error)")
        }
    }
}
