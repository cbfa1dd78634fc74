import DiscoveryCore
import HAProxyRuntime
import Logging
import StateStore

/// Planning the changed backends, and taking HAProxy's answers to the batch.
extension ReconcileStep {
    mutating func plan(now: ReconcileNow) -> [ReconcileEffect] {
        for name in drainingBackends where tables[name]?.slots.contains(where: { $0.state == .draining && ($0.drainDeadline ?? 0) <= now.wall }) ?? false {
            dirty.insert(name)
        }
        for (name, hold) in holds {
            if let backend = config.backend(named: name), now.wall >= hold.since + backend.guardPolicy.confirmAfter.seconds { dirty.insert(name) }
        }
        let toPlan = dirty
        dirty = []
        guard !toPlan.isEmpty, let currentLive = live else { return finishCycle(now: now) }

        let items = Planning.plan(
            backends: config.backends.filter { toPlan.contains($0.name) }, tables: tables, live: currentLive,
            snapshots: snapshots, sessions: sessions, holds: holds, suspect: suspect, now: now.wall
        )
        for item in items {
            reportDesiredProblems(backend: item.plan.backend, desired: item.desired)
            trackHold(backend: item.plan.backend, item: item)
            if !item.plan.missingServers.isEmpty {
                let missing = item.plan.missingServers
                logger.error("servers missing from HAProxy: its haproxy.cfg declares fewer slots than the config; run `discovery-bridge render`",
                             metadata: ["backend": "\(item.plan.backend)", "missing": "\(missing.prefix(5).joined(separator: ","))\(missing.count > 5 ? ",..." : "")"])
            }
            reportUnslotted(backend: item.plan.backend, plan: item.plan)
        }
        let batch = ApplyBatch(plans: items.map(\.plan))
        guard batch.commandCount > 0 else {
            phase = .applying(batch, previousLive: currentLive)
            return batchAnswered(.answered([]), now: now)
        }
        phase = .applying(batch, previousLive: currentLive)
        return [.apply(batch)]
    }

    mutating func batchAnswered(_ result: BatchResult, now: ReconcileNow) -> [ReconcileEffect] {
        guard case .applying(let batch, let currentLive) = phase else { return [] }
        phase = .idle
        let results: [ActionResult]
        switch result {
        case .connectionFailed(let error, let completed):
            metrics.count(.runtimeCommands, by: completed)
            // Which commands took effect is unknown: keep the intended table and re-read live state to repair.
            for plan in batch.plans { setTable(plan.backend, plan.slots) }
            dirty.formUnion(batch.plans.map(\.backend))
            let effects = fail("sending \(batch.commandCount) commands", error, now: now)
            return [.persist(document(writtenAt: now.wall))] + effects
        case .answered(let r):
            results = r
        }

        metrics.count(.runtimeCommands, by: results.count)
        var failedBackends = Set<String>()
        var oldWorker = false
        var refused = 0
        for result in results where !result.succeeded {
            failedBackends.insert(result.action.backend)
            // A worker an HAProxy reload replaced answers everything so until our connection moves to the new one:
            // not a refusal (the alert on refused commands must not fire on every reload), the batch goes again.
            guard let reason = result.refusal else {
                metrics.count(.runtimeCommandsResent)
                oldWorker = true
                continue
            }
            metrics.count(.runtimeCommandFailures)
            refused += 1
            if refused <= 10 {
                logger.error("HAProxy refused a command", metadata: ["backend": "\(result.action.backend)", "command": "\(result.action.line)", "answer": "\(reason)"])
            }
        }
        if refused > 10 { logger.error("HAProxy refused more commands", metadata: ["more": "\(refused - 10)"]) }

        var newLive = currentLive
        var latencies: [Double] = []
        var applied: [String: BackendSlots] = [:]
        let totalChanges = batch.plans.reduce(0) { $0 + $1.changes.count }
        for plan in batch.plans {
            setTable(plan.backend, plan.slots)
            newLive[plan.backend] = TableAdoption.expectedLive(plan.slots, previous: currentLive[plan.backend] ?? [:])
            logChanges(plan, detailed: totalChanges <= 200)
            metrics.count(.slotChanges, by: plan.changes.count)
            if !failedBackends.contains(plan.backend) { applied[plan.backend] = plan.slots }
            if let since = pendingSince.removeValue(forKey: plan.backend), !failedBackends.contains(plan.backend) {
                let seconds = (now.instant - since).seconds
                metrics.observeApplyLatency(seconds)
                latencies.append(seconds)
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
        if batch.plans.contains(where: { !$0.isEmpty }) || holdsChanged {
            holdsChanged = false
            effects.append(.persist(document(writtenAt: now.wall)))
        }
        if batch.commandCount > 0 {
            effects.append(.batchApplied(AppliedBatch(tables: applied, changeToApplied: latencies, commands: batch.commandCount)))
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
            let reported = config.backends.allSatisfy { $0.sources.allSatisfy { snapshots[$0.key] != nil } }
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
