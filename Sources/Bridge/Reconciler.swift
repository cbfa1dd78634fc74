import DiscoveryCore
import Foundation
import HAProxyRuntime
import Logging
import StateStore
import Synchronization

/// Keeps HAProxy's slots in step with discovery: on every snapshot change (coalesced) and on a slow timer it reads
/// live state when needed, plans each affected backend, sends all commands in one batch and persists the table.
///
/// HAProxy unreachable, a command refused, a state file unwritable: each is logged, retried with backoff, and never
/// loses the table. Nothing is planned for a backend until every one of its sources has answered once.
public actor Reconciler {
    public typealias WallClock = @Sendable () -> Double

    let logger: Logger
    private(set) var config: BridgeConfig
    let haproxy: any HAProxyControl
    let store: StateStore
    let persister: StatePersister
    let wallClock: WallClock
    let metrics: BridgeMetrics?
    private let wakeup = Wakeup()

    private var tables: [String: BackendSlots] = [:]
    private var snapshots: [String: [Instance]] = [:]
    /// HAProxy's servers as last read or as left by the last successful batch; nil forces a re-read.
    private var live: [String: [String: LiveServer]]?
    private var identity: HAProxyIdentity?
    private var sessions: [String: [String: Int]] = [:]
    private var dirty: Set<String> = []
    private var lastResync: ContinuousClock.Instant?
    private var lastDrainCheck: ContinuousClock.Instant?
    private var lastRestartCheck: ContinuousClock.Instant?
    private var retryAt: ContinuousClock.Instant?
    private var backoff = Backoff()
    private let stopFlag = Atomic<Bool>(false)
    private var stopping: Bool { stopFlag.load(ordering: .relaxed) }
    private var firstSyncDone = false
    private var readyDone = false
    private let startedAt = ContinuousClock.now
    /// How long readiness waits for every source's first answer before it is declared anyway (under systemd's start timeout).
    public static let readyGrace: Duration = .seconds(30)
    private var onFirstSync: (@Sendable () -> Void)?
    private var pendingSince: [String: ContinuousClock.Instant] = [:]
    private var lastUnslotted: [String: [String]] = [:]
    private var lastRejected: [String: [String]] = [:]
    private var holds: [String: GuardHold] = [:]
    private var suspect: [String: String] = [:]
    private var holdsChanged = false
    /// Backends fed by each source key, so a snapshot marks its backends without scanning every backend.
    private var backendsBySource: [String: [String]]

    static func index(_ config: BridgeConfig) -> [String: [String]] {
        var index: [String: [String]] = [:]
        for backend in config.backends {
            for source in backend.sources { index[source.key, default: []].append(backend.name) }
        }
        return index
    }
    public private(set) var counters = Counters()
    public private(set) var lastSync: Date?
    public private(set) var lastError: String?

    /// Running totals for metrics and `status`.
    public struct Counters: Sendable {
        public var cycles = 0
        public var commandsSent = 0
        public var commandsFailed = 0
        public var haproxyErrors = 0
        public var haproxyRestarts = 0
        public var changesApplied = 0
        public var guardHolds = 0
        public var guardReleases = 0
        /// Seconds from a snapshot change arriving to its commands being acknowledged, most recent last (bounded).
        public var applyLatencies: [Double] = []
    }

    public init(
        config: BridgeConfig, haproxy: any HAProxyControl, store: StateStore, logger: Logger, metrics: BridgeMetrics? = nil,
        wallClock: @escaping WallClock = { Date().timeIntervalSince1970 }
    ) {
        self.metrics = metrics
        self.config = config
        self.backendsBySource = Self.index(config)
        self.haproxy = haproxy
        self.store = store
        self.logger = logger
        self.wallClock = wallClock
        self.persister = StatePersister(store: store, logger: logger)
    }

    /// Registers a callback run once the bridge is ready: HAProxy reconciled with every source's first answer
    /// (or, when a source stays silent, `readyGrace` after start, with the remembered slots re-applied).
    public func onFirstSync(_ callback: @escaping @Sendable () -> Void) {
        if readyDone { callback() } else { onFirstSync = callback }
    }

    // MARK: Inputs

    /// Takes a provider's snapshot; backends fed by a changed source are planned at the next cycle.
    public func ingest(_ update: ProviderUpdate) {
        var changed = false
        for key in update.sources.keys where suspect[key] != update.suspectReason {
            suspect[key] = update.suspectReason
            changed = true
            for name in backendsBySource[key] ?? [] { dirty.insert(name) }
        }
        for (key, instances) in update.sources where snapshots[key] != instances {
            snapshots[key] = instances
            changed = true
            for name in backendsBySource[key] ?? [] {
                dirty.insert(name)
                if pendingSince[name] == nil { pendingSince[name] = .now }
            }
        }
        if changed { wakeup.signal() }
    }

    /// Applies a new configuration: unchanged backends keep their slots; new ones are adopted from live state.
    public func updateConfig(_ newConfig: BridgeConfig) {
        let names = Set(newConfig.backends.map(\.name))
        tables = tables.filter { names.contains($0.key) }
        holds = holds.filter { names.contains($0.key) }
        let keys = Set(newConfig.backends.flatMap { $0.sources.map(\.key) })
        snapshots = snapshots.filter { keys.contains($0.key) }
        config = newConfig
        backendsBySource = Self.index(newConfig)
        live = nil
        dirty = names
        wakeup.signal()
    }

    /// Asks the run loop to finish the batch in flight, write the state and return.
    public nonisolated func stop() {
        stopFlag.store(true, ordering: .relaxed)
        wakeup.signal()
    }

    // MARK: Run loop

    /// Runs until cancelled or stopped; always writes the state file before returning.
    public func run() async {
        loadState()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.persister.run() }
            while !Task.isCancelled && !stopping {
                let signalled = await wakeup.wait(until: nextDeadline())
                if Task.isCancelled || stopping { break }
                if signalled, config.coalesce > .zero {
                    try? await Task.sleep(for: config.coalesce)
                }
                await cycle()
            }
            persister.submit(document())
            await persister.flush()
            group.cancelAll()
        }
        haproxy.close()
    }

    func loadState() {
        do {
            if let doc = try store.load() {
                identity = doc.haproxy
                let names = Set(config.backends.map(\.name))
                tables = doc.backends.filter { names.contains($0.key) }
                logger.info("state loaded", metadata: ["state_file": "\(store.path)", "backends": "\(tables.count)", "slots": "\(tables.values.reduce(0) { $0 + $1.slots.count })"])
            } else {
                logger.info("no state file yet; slots will be adopted from HAProxy", metadata: ["state_file": "\(store.path)"])
            }
        } catch {
            logger.error("state file unusable; rebuilding the slot table from HAProxy's live state", metadata: ["state_file": "\(store.path)", "error": "\(error)"])
            do {
                let moved = try store.quarantine()
                logger.warning("corrupt state file moved aside", metadata: ["moved_to": "\(moved)"])
            } catch {
                logger.error("cannot move the corrupt state file aside", metadata: ["error": "\(error)"])
            }
            tables = [:]
        }
        dirty = Set(config.backends.map(\.name))
    }

    func nextDeadline() -> ContinuousClock.Instant? {
        if let retryAt { return retryAt }
        let now = ContinuousClock.now
        var deadline = min((lastResync ?? now) + config.haproxy.resyncInterval, (lastRestartCheck ?? now) + config.haproxy.restartCheckInterval)
        if !firstSyncDone || live == nil || !dirty.isEmpty { return now }
        if !readyDone { deadline = min(deadline, startedAt + Self.readyGrace) }
        let wallNow = wallClock()
        for (name, hold) in holds {
            guard let backend = config.backend(named: name) else { continue }
            let due = hold.since + backend.guardPolicy.confirmAfter.seconds - wallNow
            deadline = min(deadline, now + .milliseconds(Int64(max(0, due) * 1000) + 1))
        }
        for table in tables.values {
            for slot in table.slots where slot.state == .draining {
                deadline = min(deadline, (lastDrainCheck ?? now) + config.haproxy.drainCheckInterval)
                if let d = slot.drainDeadline {
                    deadline = min(deadline, now + .milliseconds(Int64(max(0, d - wallNow) * 1000) + 1))
                }
            }
        }
        return deadline
    }

    /// One reconciliation: live state if due, sessions of draining slots if due, plan, apply, persist.
    func cycle() async {
        let now = ContinuousClock.now
        if let r = retryAt, now < r { return }
        retryAt = nil
        counters.cycles += 1

        // A cheap pid check between resyncs: an HAProxy restart is re-applied within about a second.
        if live != nil, let known = identity, lastRestartCheck.map({ now - $0 >= config.haproxy.restartCheckInterval }) ?? true {
            lastRestartCheck = now
            do {
                let info = try await haproxy.probeInfo()
                if HAProxyIdentity(pid: info.pid, startTimeSec: info.startTimeSec) != known {
                    haproxy.close()
                    live = nil
                }
            } catch {
                fail("checking HAProxy's pid", BridgeError(error))
                return
            }
        }
        if live == nil || lastResync.map({ now - $0 >= config.haproxy.resyncInterval }) ?? true {
            do {
                // Re-read over a new connection: an open one may still reach a worker an HAProxy reload replaced
                // (it refuses changes as a stale worker, or answers stale state); the new one reaches whoever owns the socket now.
                haproxy.close()
                let state = try await haproxy.readLiveState()
                absorbLive(state)
                lastResync = .now
                lastRestartCheck = .now
            } catch {
                fail("reading live state", BridgeError(error))
                return
            }
        }

        let draining = tables.filter { $0.value.slots.contains { $0.state == .draining } }.map(\.key).sorted()
        if !draining.isEmpty, lastDrainCheck.map({ now - $0 >= config.haproxy.drainCheckInterval }) ?? true {
            do {
                sessions = try await haproxy.readSessions(backends: draining)
                lastDrainCheck = .now
                dirty.formUnion(draining)
            } catch {
                fail("reading sessions of draining servers", BridgeError(error))
                return
            }
        }
        let wallNow = wallClock()
        for name in draining where tables[name]?.slots.contains(where: { $0.state == .draining && ($0.drainDeadline ?? 0) <= wallNow }) ?? false {
            dirty.insert(name)
        }

        for (name, hold) in holds {
            if let backend = config.backend(named: name), wallNow >= hold.since + backend.guardPolicy.confirmAfter.seconds { dirty.insert(name) }
        }
        let toPlan = dirty
        dirty = []
        guard !toPlan.isEmpty, let currentLive = live else {
            markSynced()
            return
        }

        let plans = Planning.plan(
            backends: config.backends.filter { toPlan.contains($0.name) }, tables: tables, live: currentLive,
            snapshots: snapshots, sessions: sessions, holds: holds, suspect: suspect, now: wallNow
        )
        var actions: [SlotAction] = []
        for item in plans {
            reportDesiredProblems(backend: item.plan.backend, desired: item.desired)
            trackHold(backend: item.plan.backend, item: item)
            if !item.plan.missingServers.isEmpty {
                let missing = item.plan.missingServers
                logger.error("servers missing from HAProxy: its haproxy.cfg declares fewer slots than the config; run `discovery-bridge render`",
                             metadata: ["backend": "\(item.plan.backend)", "missing": "\(missing.prefix(5).joined(separator: ","))\(missing.count > 5 ? ",..." : "")"])
            }
            reportUnslotted(backend: item.plan.backend, plan: item.plan)
            actions.append(contentsOf: item.plan.commands)
        }

        var failedBackends = Set<String>()
        var oldWorker = false
        if !actions.isEmpty {
            do {
                let results = try await haproxy.apply(actions)
                counters.commandsSent += results.count
                var refused = 0
                for result in results where !result.succeeded {
                    counters.commandsFailed += 1
                    let backend = result.action.backend
                    failedBackends.insert(backend)
                    // A worker an HAProxy reload replaced refuses everything until our connection moves to the new one.
                    guard let reason = result.refusal else {
                        oldWorker = true
                        continue
                    }
                    refused += 1
                    if refused <= 10 {
                        logger.error("HAProxy refused a command", metadata: ["backend": "\(backend)", "command": "\(result.action.line)", "answer": "\(reason)"])
                    }
                }
                if refused > 10 { logger.error("HAProxy refused more commands", metadata: ["more": "\(refused - 10)"]) }
            } catch {
                counters.commandsSent += error.completed
                // Which commands took effect is unknown: keep the intended table and re-read live state to repair.
                for item in plans { tables[item.plan.backend] = item.plan.slots }
                dirty.formUnion(plans.map(\.plan.backend))
                fail("sending \(actions.count) commands", BridgeError(error))
                persister.submit(document())
                return
            }
        }

        var newLive = currentLive
        let totalChanges = plans.reduce(0) { $0 + $1.plan.changes.count }
        for plan in plans.map(\.plan) {
            tables[plan.backend] = plan.slots
            newLive[plan.backend] = TableAdoption.expectedLive(plan.slots, previous: currentLive[plan.backend] ?? [:])
            logChanges(plan, detailed: totalChanges <= 200)
            counters.changesApplied += plan.changes.count
            if let since = pendingSince.removeValue(forKey: plan.backend), !failedBackends.contains(plan.backend) {
                recordLatency((ContinuousClock.now - since).seconds)
            }
        }
        if failedBackends.isEmpty {
            live = newLive
            backoff.reset()
        } else {
            // Refused commands: re-read what HAProxy really has, and do not hammer it.
            live = nil
            dirty.formUnion(failedBackends)
            if oldWorker {
                logger.warning("HAProxy was reloaded: the connection reached the old worker; reconnecting", metadata: [:])
                haproxy.close()
            } else {
                retryAt = .now + backoff.next()
            }
        }
        if plans.contains(where: { !$0.plan.isEmpty }) || holdsChanged {
            holdsChanged = false
            persister.submit(document())
        }
        markSynced()
    }

    private func recordLatency(_ seconds: Double) {
        metrics?.observeApplyLatency(seconds)
        counters.applyLatencies.append(seconds)
        if counters.applyLatencies.count > 4096 { counters.applyLatencies.removeFirst(counters.applyLatencies.count - 4096) }
    }

    private func markSynced() {
        lastSync = Date()
        lastError = nil
        if !firstSyncDone, live != nil { firstSyncDone = true }
        guard firstSyncDone, !readyDone else { return }
        let reported = config.backends.allSatisfy { $0.sources.allSatisfy { snapshots[$0.key] != nil } }
        if reported || ContinuousClock.now - startedAt >= Self.readyGrace {
            readyDone = true
            if !reported {
                logger.warning("ready without every source's first answer; remembered slots are applied, the rest follows when the sources answer")
            }
            onFirstSync?()
            onFirstSync = nil
        }
    }

    private func absorbLive(_ state: LiveState) {
        let newIdentity = HAProxyIdentity(pid: state.info.pid, startTimeSec: state.info.startTimeSec)
        if let old = identity, old != newIdentity {
            counters.haproxyRestarts += 1
            logger.warning("HAProxy restarted or reloaded; re-applying every slot", metadata: ["old_pid": "\(old.pid)", "pid": "\(newIdentity.pid)"])
        }
        let sameProcess = identity == newIdentity
        if !sameProcess {
            // Recorded with the table after the re-apply batch; writing it now would compete with that batch for CPU.
            identity = newIdentity
        }
        // What HAProxy should have if nothing drifted: a periodic re-read that matches it needs no planning, which
        // keeps an idle bridge with thousands of servers cheap.
        let expected = sameProcess ? live : nil
        let wallNow = wallClock()
        for backend in config.backends {
            let liveServers = state.backends[backend.name] ?? [:]
            if let expected, tables[backend.name] != nil, let wanted = expected[backend.name], wanted == liveServers { continue }
            if state.backends[backend.name] == nil {
                logger.error("backend not found in HAProxy; add it to haproxy.cfg (see `discovery-bridge render`)", metadata: ["backend": "\(backend.name)"])
            }
            tables[backend.name] = TableAdoption.merge(config: backend, table: tables[backend.name], live: liveServers, now: wallNow)
            dirty.insert(backend.name)
        }
        live = state.backends
    }

    private func fail(_ what: String, _ error: BridgeError) {
        counters.haproxyErrors += 1
        live = nil
        let delay = backoff.next()
        retryAt = .now + delay
        lastError = "\(what): \(error)"
        logger.error("HAProxy unreachable or failing; keeping the slot table and retrying", metadata: ["during": "\(what)", "error": "\(error)", "retry_in": "\(DurationText.format(delay))"])
    }

    private func reportDesiredProblems(backend: String, desired: DesiredBackend) {
        let ids = desired.rejected.map { "\($0.id): \($0.reason)" }
        if lastRejected[backend] != ids {
            lastRejected[backend] = ids
            for r in desired.rejected {
                logger.warning("instance rejected", metadata: ["backend": "\(backend)", "instance": "\(r.id)", "reason": "\(r.reason)"])
            }
        }
    }

    private func trackHold(backend: String, item: Planning.Item) {
        let previous = holds[backend]
        holds[backend] = item.hold
        if (previous == nil) != (item.hold == nil) { holdsChanged = true }
        if let hold = item.hold, previous?.fingerprint != hold.fingerprint {
            holdsChanged = true
            counters.guardHolds += 1
            logger.warning("guard holding a destructive change; the last good servers stay", metadata: [
                "backend": "\(backend)", "reason": "\(hold.reason)", "would_remove": "\(hold.wouldRemove)",
            ])
        }
        if item.guardReleased {
            counters.guardReleases += 1
            logger.notice("guard released: the change persisted or is no longer destructive", metadata: ["backend": "\(backend)"])
        }
    }

    /// Guard holds in force, per backend.
    public func guardHolds() -> [String: GuardHold] { holds }

    private func reportUnslotted(backend: String, plan: BackendPlan) {
        let ids = plan.unslotted.map(\.id)
        if lastUnslotted[backend] != ids {
            lastUnslotted[backend] = ids
            if !ids.isEmpty {
                logger.warning("instances without a slot: raise `slots` or enable growth", metadata: ["backend": "\(backend)", "count": "\(ids.count)", "instances": "\(ids.prefix(10).joined(separator: ","))"])
            }
        }
    }

    /// One line per change for ordinary cycles; a cold sync or a mass change logs one summary line per backend
    /// (details at debug), so thousands of changes cost neither seconds of logging nor the operator's scrollback.
    private func logChanges(_ plan: BackendPlan, detailed: Bool) {
        guard !plan.changes.isEmpty else { return }
        if detailed && plan.changes.count <= 50 {
            for change in plan.changes {
                var meta: Logger.Metadata = ["backend": "\(plan.backend)", "slot": "\(change.server)"]
                if let id = change.instanceID { meta["instance"] = "\(id)" }
                if !change.detail.isEmpty { meta["detail"] = "\(change.detail)" }
                logger.info("slot \(change.kind.rawValue)", metadata: meta)
            }
        } else {
            var byKind: [String: Int] = [:]
            for c in plan.changes { byKind[c.kind.rawValue, default: 0] += 1 }
            logger.info("slots changed", metadata: ["backend": "\(plan.backend)", "changes": "\(byKind.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))"])
            for change in plan.changes {
                logger.debug("slot \(change.kind.rawValue)", metadata: ["backend": "\(plan.backend)", "slot": "\(change.server)", "instance": "\(change.instanceID ?? "-")", "detail": "\(change.detail)"])
            }
        }
    }

    // MARK: Views

    /// The state document for the current table.
    public func document() -> StateDocument {
        StateDocument(version: 1, writtenAt: wallClock(), haproxy: identity, backends: tables, guardHolds: holds)
    }

    /// The slot tables, for `status` and metrics.
    public func slotTables() -> [String: BackendSlots] { tables }

    /// Desired instances that found no slot, per backend.
    public func unslotted() -> [String: [String]] { lastUnslotted }

    /// Whether the last state write failed (the bridge then serves from memory).
    public nonisolated var stateWriteFailing: Bool { persister.isFailing }

    /// State file writes and failures so far.
    public nonisolated var stateWriteCounters: (writes: Int, failures: Int) {
        let c = persister.counters
        return (c.writes, c.failures)
    }

    /// Number of instances discovered per source key.
    public func discoveredCounts() -> [String: Int] { snapshots.mapValues(\.count) }

    public var hasSynced: Bool { firstSyncDone }

    /// True once ready (see `onFirstSync`): what systemd's READY=1 reports.
    public var isReady: Bool { readyDone }
}
