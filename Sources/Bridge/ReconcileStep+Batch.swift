import DiscoveryCore
import HAProxyRuntime
import Logging
import StateStore

/// Handing the changed backends over for planning and sending, and taking HAProxy's answers to the batch.
extension ReconcileStep {
    /// Starts the cycle's batch. With `readingLive`, the batch reads live state first and plans each backend as
    /// its servers arrive; otherwise it plans from the live state already known. Either way the first backend's
    /// commands are sent while the next is planned (`PlanFeed`, `RuntimeClient.stream`).
    mutating func plan(now: ReconcileNow, readingLive: Bool = false) -> [ReconcileEffect] {
        for name in drainingBackends where tables[name]?.slots.contains(where: { $0.state == .draining && ($0.drainDeadline ?? 0) <= now.wall }) ?? false {
            dirty.insert(name)
        }
        for (name, hold) in holds {
            if let backend = config.backend(named: name), now.wall >= hold.since + backend.guardPolicy.confirmAfter.seconds { dirty.insert(name) }
        }
        let toPlan = dirty
        if !readingLive, toPlan.isEmpty || live == nil {
            if live != nil, !readyDone { sourcesApplied.formUnion(snapshots.keys) }
            return finishCycle(now: now)
        }
        dirty = []
        var liveRead: PlanFeed.LiveRead?
        if readingLive {
            liveRead = PlanFeed.LiveRead(identity: identity, expected: live, requiredPID: requiredWorker(now: now))
        }
        let feed = PlanFeed(
            backends: config.backends, toPlan: toPlan, tables: tables, live: live ?? [:], snapshots: snapshots,
            sessions: sessions, holds: holds, suspect: suspect, now: now.wall, liveRead: liveRead, position: backendPosition
        )
        phase = .applying(readsLive: readingLive)
        batchHandedAt = now.instant
        return [.apply(ApplyBatch(feed: feed, readsLiveFirst: readingLive))]
    }

    mutating func batchAnswered(_ result: BatchResult, now: ReconcileNow) -> [ReconcileEffect] {
        guard case .applying(let readsLive) = phase else { return [] }
        phase = .idle
        let feed = result.feed
        dirty.formUnion(feed.unplanned)
        for item in feed.items { report(item) }
        if readsLive {
            if feed.refusedWorker { return retryForNewWorker(now: now) }
            if result.failure == nil, let info = feed.info {
                absorbIdentity(info, now: now)
                for backend in config.backends where feed.live[backend.name] == nil { reportMissing(backend: backend.name) }
            }
        }
        if let failure = result.failure {
            metrics.count(.runtimeCommands, by: result.results.count)
            guard !feed.items.isEmpty else { return fail(readsLive ? "reading live state" : "sending commands", failure, now: now) }
            // Which commands took effect is unknown: keep the intended table and re-read live state to repair.
            for item in feed.items { setTable(item.plan.backend, item.plan.slots) }
            dirty.formUnion(feed.items.map(\.plan.backend))
            let effects = fail("sending \(result.commandCount) commands", failure, now: now)
            return [.persist(document(writtenAt: now.wall))] + effects
        }
        return taken(result, now: now)
    }

    /// HAProxy answered every action: record what took, back off from what was refused.
    mutating func taken(_ result: BatchResult, now: ReconcileNow) -> [ReconcileEffect] {
        let plans = result.feed.items.map(\.plan)
        let currentLive = result.feed.live
        // Snapshots that arrive while the batch runs are planned in the next one: readiness waits for them.
        if !readyDone { sourcesApplied.formUnion(result.feed.snapshots.keys) }
        metrics.count(.runtimeCommands, by: result.results.count)
        var failedBackends = Set<String>()
        var oldWorker = false
        var refused = 0
        for r in result.results where !r.succeeded {
            failedBackends.insert(r.action.backend)
            // A worker an HAProxy reload replaced answers everything so until our connection moves to the new one:
            // not a refusal (the alert on refused commands must not fire on every reload), the batch goes again.
            guard let reason = r.refusal else {
                metrics.count(.runtimeCommandsResent)
                oldWorker = true
                continue
            }
            metrics.count(.runtimeCommandFailures)
            refused += 1
            if refused <= 10 {
                logger.error("HAProxy refused a command", metadata: ["backend": "\(r.action.backend)", "command": "\(r.action.line)", "answer": "\(reason)"])
            }
        }
        if refused > 10 { logger.error("HAProxy refused more commands", metadata: ["more": "\(refused - 10)"]) }

        var newLive = currentLive
        var latencies: [Double] = []
        var applied: [String: BackendSlots] = [:]
        var oldest: ContinuousClock.Instant?
        let totalChanges = plans.reduce(0) { $0 + $1.changes.count }
        for (k, plan) in plans.enumerated() {
            setTable(plan.backend, plan.slots)
            newLive[plan.backend] = result.feed.expectedLive(k)
            logChanges(plan, detailed: totalChanges <= 200)
            metrics.count(.slotChanges, by: plan.changes.count)
            if !failedBackends.contains(plan.backend) { applied[plan.backend] = plan.slots }
            if let since = pendingSince.removeValue(forKey: plan.backend), !failedBackends.contains(plan.backend) {
                let seconds = (now.instant - since).seconds
                metrics.observeApplyLatency(seconds)
                latencies.append(seconds)
                oldest = min(oldest ?? since, since)
            }
        }
        var effects: [ReconcileEffect] = []
        if failedBackends.isEmpty {
            live = newLive
            backoff.reset()
        } else {
            // Refused commands: re-read what HAProxy really has, and do not hammer it.
            live = nil
            dirty.formUnion(failedBackends)
            if oldWorker {
                logger.warning("HAProxy was reloaded: the connection reached the old worker; reconnecting", metadata: [:])
                effects.append(.closeConnection)
            } else {
                retryAt = now.instant + backoff.next()
            }
        }
        if plans.contains(where: { !$0.isEmpty }) || holdsChanged {
            holdsChanged = false
            effects.append(.persist(document(writtenAt: now.wall)))
        }
        if result.commandCount > 0 {
            var timeline: BatchTimeline?
            if let oldest, let handed = batchHandedAt, let ran = result.ran {
                timeline = BatchTimeline(toBatch: (handed - oldest).seconds, toThread: (ran.lowerBound - handed).seconds,
                                         onThread: (ran.upperBound - ran.lowerBound).seconds, back: (now.instant - ran.upperBound).seconds)
            }
            effects.append(.batchApplied(AppliedBatch(tables: applied, changeToApplied: latencies, commands: result.commandCount, timeline: timeline)))
        }
        return effects + finishCycle(now: now)
    }

    /// Records a cycle that reached HAProxy and declares readiness once due.
    mutating func finishCycle(now: ReconcileNow) -> [ReconcileEffect] {
        lastSync = now.wall
        lastError = nil
        var effects: [ReconcileEffect] = []
        if !firstSyncDone, live != nil { firstSyncDone = true }
        if firstSyncDone, !readyDone {
            let reported = config.backends.allSatisfy { $0.sources.allSatisfy { sourcesApplied.contains($0.key) } }
            if reported || now.instant - timers.started >= Self.readyGrace {
                readyDone = true
                if !reported {
                    logger.warning("ready without every source's first answer; remembered slots are applied, the rest follows when the sources answer")
                }
                effects.append(.markReady)
            }
        }
        if live != nil, retryAt == nil, firstSyncDone {
            let due = releases.due(tables: tables, backends: config.backends)
            if !due.isEmpty { effects.append(.releaseTraffic(due)) }
        }
        return effects + [.scheduleWake(at: nextWake(now: now))]
    }
}
