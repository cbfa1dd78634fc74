import DiscoveryCore
import HAProxyRuntime
import Logging
import StateStore

/// The reads that open a cycle: a restart check, live state, sessions of draining servers.
extension ReconcileStep {
    mutating func startCycle(now: ReconcileNow) -> [ReconcileEffect] {
        guard !isBusy else { return [] }
        if let r = retryAt, now.instant < r { return [.scheduleWake(at: r)] }
        retryAt = nil
        coalesceUntil = nil
        timers.lastCycleWall = now.wall
        metrics.count(.reconcileCycles)
        // A cheap pid check between resyncs: an HAProxy restart is re-applied within about a second.
        if live != nil, identity != nil, isDue(timers.lastRestartCheck, every: config.haproxy.restartCheckInterval, now: now) {
            timers.lastRestartCheck = now.instant
            phase = .probing
            return [.probeIdentity]
        }
        return readLiveIfDue(now: now)
    }

    mutating func identityRead(_ result: Result<HAProxyIdentity?, BridgeError>, now: ReconcileNow) -> [ReconcileEffect] {
        guard case .probing = phase else { return [] }
        phase = .idle
        switch result {
        case .failure(let error):
            return fail("checking HAProxy's pid", error, now: now)
        case .success(let probed):
            var effects: [ReconcileEffect] = []
            if let probed, let known = identity, probed != known {
                effects.append(.closeConnection)
                live = nil
            }
            return effects + readLiveIfDue(now: now)
        }
    }

    mutating func readLiveIfDue(now: ReconcileNow) -> [ReconcileEffect] {
        if live == nil || isDue(timers.lastResync, every: config.haproxy.resyncInterval, now: now) {
            // Re-read over a new connection: an open one may still reach a worker an HAProxy reload replaced
            // (it answers "Proxy is disabled." or stale state); the new one reaches whoever owns the socket now.
            if sessionsDue(now: now) || !everySourceReported {
                // Draining servers' sessions are read between the live read and planning; and before every source
                // has answered (a cold start), planning after the read takes the snapshots that arrived during it.
                phase = .readingLive
                return [.closeConnection, .readLive]
            }
            // The usual case: the live read is the batch's first part, each backend planned as its servers arrive.
            return [.closeConnection] + plan(now: now, readingLive: true)
        }
        return readSessionsIfDue(now: now)
    }

    /// The `show info` of a live read (separate or a batch's first part): a restart or reload is noticed (counted,
    /// logged) and the identity recorded; the read counts as the resync and the pid check. Returns whether it is the
    /// process the step knew.
    @discardableResult
    mutating func absorbIdentity(_ info: HAProxyInfo, now: ReconcileNow) -> Bool {
        awaitingWorker = nil
        let newIdentity = HAProxyIdentity(pid: info.pid, startTimeSec: info.startTimeSec)
        let sameProcess = identity == newIdentity
        if let old = identity, !sameProcess {
            metrics.count(.haproxyRestarts)
            logger.warning("HAProxy restarted or reloaded; re-applying every slot", metadata: ["old_pid": "\(old.pid)", "pid": "\(newIdentity.pid)"])
        }
        identity = newIdentity
        timers.lastResync = now.instant
        timers.lastRestartCheck = now.instant
        return sameProcess
    }

    /// The worker a noticed reload started, while the step still waits for it to own the socket.
    func requiredWorker(now: ReconcileNow) -> Int? {
        awaitingWorker.flatMap { now.instant < $0.until ? $0.pid : nil }
    }

    /// A live read reached the worker a reload replaced: ask the new one again in a moment, over a new connection.
    mutating func retryForNewWorker(now: ReconcileNow) -> [ReconcileEffect] {
        retryAt = now.instant + .milliseconds(5)
        return [.closeConnection, .scheduleWake(at: retryAt)]
    }

    func reportMissing(backend: String) {
        logger.error("backend not found in HAProxy; add it to haproxy.cfg (see `discovery-bridge render`)", metadata: ["backend": "\(backend)"])
    }

    mutating func liveRead(_ result: Result<LiveState, BridgeError>, now: ReconcileNow) -> [ReconcileEffect] {
        guard case .readingLive = phase else { return [] }
        phase = .idle
        switch result {
        case .failure(let error):
            return fail("reading live state", error, now: now)
        case .success(let state):
            if let pid = requiredWorker(now: now), state.info.pid != pid { return retryForNewWorker(now: now) }
            absorbLive(state, now: now)
            return readSessionsIfDue(now: now)
        }
    }

    /// Whether a periodic check (pid, resync) last run at `last` is due in this cycle.
    ///
    /// A provider change waiting goes out first: a check that came due less than one interval ago runs in the cycle
    /// right after the batch (due at once then), so it never adds its round trip to the change's latency. A change
    /// after HAProxy restarted still lands: a closed connection is reopened to the new process, an old worker's answer
    /// is recognised, and the check that follows re-applies every slot.
    func isDue(_ last: ContinuousClock.Instant?, every interval: Duration, now: ReconcileNow) -> Bool {
        guard let last else { return true }
        let since = now.instant - last
        if since < interval { return false }
        return pendingSince.isEmpty || since >= interval * 2
    }

    /// Backends with a draining slot, in name order (kept by `setTable`: no scan of every slot per cycle).
    var drainingBackends: [String] { draining.sorted() }

    /// Whether every source of every backend has sent a snapshot.
    var everySourceReported: Bool {
        config.backends.allSatisfy { $0.sources.allSatisfy { snapshots[$0.key] != nil } }
    }

    /// Whether the sessions of draining servers are to be read in this cycle.
    func sessionsDue(now: ReconcileNow) -> Bool {
        !drainingBackends.isEmpty && (timers.lastDrainCheck.map { now.instant - $0 >= config.haproxy.drainCheckInterval } ?? true)
    }

    mutating func readSessionsIfDue(now: ReconcileNow) -> [ReconcileEffect] {
        if sessionsDue(now: now) {
            let draining = drainingBackends
            phase = .readingSessions(draining)
            return [.readSessions(backends: draining)]
        }
        return plan(now: now)
    }

    mutating func sessionsRead(_ result: Result<[String: [String: Int]], BridgeError>, now: ReconcileNow) -> [ReconcileEffect] {
        guard case .readingSessions(let draining) = phase else { return [] }
        phase = .idle
        switch result {
        case .failure(let error):
            return fail("reading sessions of draining servers", error, now: now)
        case .success(let read):
            sessions = read
            timers.lastDrainCheck = now.instant
            dirty.formUnion(draining)
            return plan(now: now)
        }
    }

    mutating func absorbLive(_ state: LiveState, now: ReconcileNow) {
        let sameProcess = absorbIdentity(state.info, now: now)
        // What HAProxy should have if nothing drifted: a periodic re-read that matches it needs no planning, which
        // keeps an idle bridge with thousands of servers cheap.
        let expected = sameProcess ? live : nil
        for backend in config.backends {
            let liveServers = state.backends[backend.name] ?? [:]
            if let expected, tables[backend.name] != nil, let wanted = expected[backend.name], wanted == liveServers { continue }
            if state.backends[backend.name] == nil { reportMissing(backend: backend.name) }
            setTable(backend.name, TableAdoption.merge(config: backend, table: tables[backend.name], live: liveServers, now: now.wall))
            dirty.insert(backend.name)
        }
        live = state.backends
    }

    /// HAProxy unreachable or failing: keep the table, forget live state, retry with backoff.
    mutating func fail(_ what: String, _ error: BridgeError, now: ReconcileNow) -> [ReconcileEffect] {
        metrics.count(.haproxyErrors)
        live = nil
        phase = .idle
        let delay = backoff.next()
        retryAt = now.instant + delay
        lastError = "\(what): \(error)"
        logger.error("HAProxy unreachable or failing; keeping the slot table and retrying", metadata: ["during": "\(what)", "error": "\(error)", "retry_in": "\(DurationText.format(delay))"])
        return [.scheduleWake(at: retryAt)]
    }
}
