import DiscoveryCore
import Logging

/// What a cycle tells the operator: rejected instances, guard holds, instances without a slot, slot changes.
extension ReconcileStep {
    /// Everything a backend's plan has to tell: rejected instances, guard holds, missing servers, unslotted instances.
    mutating func report(_ item: Planning.Item) {
        reportDesiredProblems(backend: item.plan.backend, desired: item.desired)
        trackHold(backend: item.plan.backend, item: item)
        if !item.plan.missingServers.isEmpty {
            let missing = item.plan.missingServers
            logger.error("servers missing from HAProxy: its haproxy.cfg declares fewer slots than the config; run `discovery-bridge render`",
                         metadata: ["backend": "\(item.plan.backend)", "missing": "\(missing.prefix(5).joined(separator: ","))\(missing.count > 5 ? ",..." : "")"])
        }
        reportUnslotted(backend: item.plan.backend, plan: item.plan)
    }

    mutating func reportDesiredProblems(backend: String, desired: DesiredBackend) {
        let ids = desired.rejected.map { "\($0.id): \($0.reason)" }
        guard lastRejected[backend] != ids else { return }
        lastRejected[backend] = ids
        for r in desired.rejected {
            logger.warning("instance rejected", metadata: ["backend": "\(backend)", "instance": "\(r.id)", "reason": "\(r.reason)"])
        }
    }

    mutating func trackHold(backend: String, item: Planning.Item) {
        let previous = holds[backend]
        holds[backend] = item.hold
        if (previous == nil) != (item.hold == nil) { holdsChanged = true }
        if let hold = item.hold, previous?.fingerprint != hold.fingerprint {
            holdsChanged = true
            metrics.count(.guardHolds)
            logger.warning("guard holding a destructive change; the last good servers stay", metadata: [
                "backend": "\(backend)", "reason": "\(hold.reason)", "would_remove": "\(hold.wouldRemove)",
            ])
        }
        if item.guardReleased {
            metrics.count(.guardReleases)
            logger.notice("guard released: the change persisted or is no longer destructive", metadata: ["backend": "\(backend)"])
        }
    }

    mutating func reportUnslotted(backend: String, plan: BackendPlan) {
        let ids = plan.unslotted.map(\.id)
        guard lastUnslotted[backend] != ids else { return }
        lastUnslotted[backend] = ids
        if !ids.isEmpty {
            logger.warning("instances without a slot: raise `slots` or enable growth", metadata: ["backend": "\(backend)", "count": "\(ids.count)", "instances": "\(ids.prefix(10).joined(separator: ","))"])
        }
    }

    /// One line per change for ordinary cycles; a cold sync or a mass change logs one summary line per backend
    /// (details at debug), so thousands of changes cost neither seconds of logging nor the operator's scrollback.
    func logChanges(_ plan: BackendPlan, detailed: Bool) {
        // Nothing is counted or spelled for a level that writes nothing (a cold sync has 500 backends of changes).
        guard !plan.changes.isEmpty, logger.logLevel <= .info else { return }
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
}
