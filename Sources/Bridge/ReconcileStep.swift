import DiscoveryCore
import FoundationEssentials
import Logging
import StateStore

/// The reconciler's decisions as a value: state + event + now → effects, with no I/O and no clock of its own.
///
/// A cycle reads HAProxy's pid when a restart check is due, sessions of draining servers when a drain check is due,
/// then hands every changed backend to one streamed batch (`PlanFeed`), which reads live state first when it is
/// missing or a resync is due, and sends each backend's commands while the next one is planned. Logs and
/// metrics are counted here, where things happen; everything else leaves as a `ReconcileEffect`.
public struct ReconcileStep: Sendable {
    /// How long readiness waits for every source's first answer before it is declared anyway (under systemd's start timeout).
    public static let readyGrace: Duration = .seconds(30)

    /// Where a cycle stands; a cycle waits for at most one answer at a time.
    enum Phase: Sendable {
        case idle
        case probing
        case readingLive
        case readingSessions([String])
        case applying(readsLive: Bool)
    }

    let logger: Logger
    let metrics: BridgeMetrics
    public internal(set) var config: BridgeConfig
    /// Backends fed by each source key, so a snapshot marks its backends without scanning every backend.
    var backendsBySource: [String: [String]] = [:]
    /// Each backend's index in config order (a plan feed visits only the changed ones, in that order).
    var backendPosition: [String: Int] = [:]
    var phase = Phase.idle

    /// Slot tables by backend; changed only through `setTable` and `setTables`, which keep `draining` in step.
    public private(set) var tables: [String: BackendSlots] = [:]
    /// Backends whose table has a draining slot: the drain checks and timers visit these, not 10,000 slots a cycle.
    private(set) var draining: Set<String> = []
    var snapshots: [String: [Instance]] = [:]
    /// Sources whose snapshot (some version of it) a batch has planned: readiness waits for every source's.
    var sourcesApplied: Set<String> = []
    var suspect: [String: String] = [:]
    /// HAProxy's servers as last read or as left by the last successful batch; nil forces a re-read.
    public internal(set) var live: [String: [String: LiveServer]]?
    public internal(set) var identity: HAProxyIdentity?
    var sessions: [String: [String: Int]] = [:]
    public internal(set) var dirty: Set<String> = []
    /// When the first snapshot change since the last cycle arrived plus the coalesce delay.
    var coalesceUntil: ContinuousClock.Instant?
    var pendingSince: [String: ContinuousClock.Instant] = [:]
    /// When the running batch was handed to the runtime client (`BatchTimeline`).
    var batchHandedAt: ContinuousClock.Instant?
    public internal(set) var holds: [String: GuardHold] = [:]
    var holdsChanged = false
    /// Providers waiting to hear that instances take no traffic anywhere (the feedback path, e.g. lifecycle hooks).
    var releases = TrafficReleaseTracker()
    var lastUnslotted: [String: [String]] = [:]
    var lastRejected: [String: [String]] = [:]

    var timers: Timers
    public internal(set) var retryAt: ContinuousClock.Instant?
    /// The worker a noticed reload started: until it answers (or the wait expires) a live read reaching another pid
    /// came from the old worker, which still accepts connections for a moment after a reload.
    var awaitingWorker: (pid: Int, until: ContinuousClock.Instant)?
    var backoff = Backoff()
    public internal(set) var firstSyncDone = false
    public internal(set) var readyDone = false
    /// Wall time of the last cycle that reached HAProxy.
    public internal(set) var lastSync: Double?
    public internal(set) var lastError: String?

    /// When each periodic check last ran.
    struct Timers: Sendable {
        var started: ContinuousClock.Instant
        var lastResync: ContinuousClock.Instant?
        var lastDrainCheck: ContinuousClock.Instant?
        var lastRestartCheck: ContinuousClock.Instant?
        /// Wall time of the last cycle's start: wall deadlines up to it were seen by a cycle.
        var lastCycleWall: Double?
    }

    /// `document` is the state file as loaded (nil when absent or unusable).
    public init(config: BridgeConfig, document: StateDocument?, startedAt: ContinuousClock.Instant, logger: Logger, metrics: BridgeMetrics) {
        self.config = config
        self.logger = logger
        self.metrics = metrics
        self.timers = Timers(started: startedAt)
        backendsBySource = Self.index(config)
        backendPosition = PlanFeed.positions(config.backends)
        if let document {
            identity = document.haproxy
            let names = Set(config.backends.map(\.name))
            setTables(document.backends.filter { names.contains($0.key) })
        }
        dirty = Set(config.backends.map(\.name))
    }

    mutating func setTable(_ name: String, _ table: BackendSlots) {
        tables[name] = table
        if Self.drains(table) { draining.insert(name) } else { draining.remove(name) }
    }

    mutating func setTables(_ all: [String: BackendSlots]) {
        tables = all
        draining = Set(all.filter { Self.drains($0.value) }.keys)
    }

    static func drains(_ table: BackendSlots) -> Bool { table.slots.contains { $0.state == .draining } }

    static func index(_ config: BridgeConfig) -> [String: [String]] {
        var index: [String: [String]] = [:]
        for backend in config.backends {
            for source in backend.sources { index[source.key, default: []].append(backend.name) }
        }
        return index
    }

    /// Takes one event; returns what to do, in order.
    public mutating func handle(_ event: ReconcileEvent, now: ReconcileNow) -> [ReconcileEffect] {
        switch event {
        case .snapshot(let update): return ingest(update, now: now)
        case .configChanged(let newConfig): return apply(newConfig, now: now)
        case .tick: return startCycle(now: now)
        case .identity(let result): return identityRead(result, now: now)
        case .liveState(let result): return liveRead(result, now: now)
        case .sessions(let result): return sessionsRead(result, now: now)
        case .batchResult(let result): return batchAnswered(result, now: now)
        case .reloadNoticed(let pid): return reloadNoticed(workerPID: pid, now: now)
        }
    }

    /// True while a cycle waits for an answer from HAProxy.
    public var isBusy: Bool {
        if case .idle = phase { return false }
        return true
    }

    /// The state document for the current table.
    public func document(writtenAt: Double) -> StateDocument {
        StateDocument(version: 1, writtenAt: writtenAt, haproxy: identity, backends: tables, guardHolds: holds)
    }

    /// Desired instances that found no slot, per backend.
    public var unslotted: [String: [String]] { lastUnslotted }

    /// Number of instances discovered per source key.
    public var discoveredCounts: [String: Int] { snapshots.mapValues(\.count) }

    mutating func ingest(_ update: ProviderUpdate, now: ReconcileNow) -> [ReconcileEffect] {
        var changed = false
        // A source no backend reads is a late answer from a provider a reload removed.
        for key in update.sources.keys where backendsBySource[key] != nil && suspect[key] != update.suspectReason {
            suspect[key] = update.suspectReason
            changed = true
            for name in backendsBySource[key] ?? [] { dirty.insert(name) }
        }
        for (key, instances) in update.sources where backendsBySource[key] != nil && snapshots[key] != instances {
            snapshots[key] = instances
            changed = true
            for name in backendsBySource[key] ?? [] {
                dirty.insert(name)
                if pendingSince[name] == nil { pendingSince[name] = now.instant }
            }
        }
        if let watch = update.releaseWatch, releases.watch(provider: update.provider, watch) { changed = true }
        guard changed else { return [] }
        if coalesceUntil == nil { coalesceUntil = now.instant + config.coalesce }
        return [.scheduleWake(at: nextWake(now: now))]
    }

    /// Unchanged backends keep their slots; new ones are adopted from live state.
    mutating func apply(_ newConfig: BridgeConfig, now: ReconcileNow) -> [ReconcileEffect] {
        let names = Set(newConfig.backends.map(\.name))
        setTables(tables.filter { names.contains($0.key) })
        holds = holds.filter { names.contains($0.key) }
        let keys = Set(newConfig.backends.flatMap { $0.sources.map(\.key) })
        snapshots = snapshots.filter { keys.contains($0.key) }
        suspect = suspect.filter { keys.contains($0.key) }
        pendingSince = pendingSince.filter { names.contains($0.key) }
        config = newConfig
        backendsBySource = Self.index(newConfig)
        backendPosition = PlanFeed.positions(newConfig.backends)
        live = nil
        dirty = names
        return [.scheduleWake(at: nextWake(now: now))]
    }

    /// When the next cycle is due; nil while a cycle is in flight (its answers drive it).
    public func nextWake(now: ReconcileNow) -> ContinuousClock.Instant? {
        if isBusy { return nil }
        if let retryAt { return retryAt }
        let t = now.instant
        if !firstSyncDone || live == nil { return t }
        if !dirty.isEmpty { return max(t, coalesceUntil ?? t) }
        var deadline = min((timers.lastResync ?? t) + config.haproxy.resyncInterval, (timers.lastRestartCheck ?? t) + config.haproxy.restartCheckInterval)
        if !readyDone { deadline = min(deadline, timers.started + Self.readyGrace) }
        for (name, hold) in holds {
            guard let backend = config.backend(named: name) else { continue }
            deadline = min(deadline, wake(atWall: hold.since + backend.guardPolicy.confirmAfter.seconds, now: now))
        }
        for name in draining {
            guard let table = tables[name] else { continue }
            for slot in table.slots where slot.state == .draining {
                deadline = min(deadline, (timers.lastDrainCheck ?? t) + config.haproxy.drainCheckInterval)
                if let d = slot.drainDeadline { deadline = min(deadline, wake(atWall: d, now: now)) }
            }
        }
        return deadline
    }

    /// The instant to wake for a wall-clock deadline: a millisecond after it (so it has passed when the timer
    /// fires), now once it has passed, and never again once a cycle has run past it (no busy loop on a deadline
    /// that cycle could not act on).
    func wake(atWall deadline: Double, now: ReconcileNow) -> ContinuousClock.Instant {
        if let last = timers.lastCycleWall, deadline <= last { return now.instant + .seconds(86_400) }
        let seconds = deadline - now.wall
        return seconds <= 0 ? now.instant : now.instant + .milliseconds(Int64(seconds * 1000) + 1)
    }
}
