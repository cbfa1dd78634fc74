import DiscoveryCore

/// A reload or restart noticed from outside the cycle (the master CLI closing, the stats-socket probe).
extension ReconcileStep {
    mutating func reloadNoticed(workerPID pid: Int, now: ReconcileNow) -> [ReconcileEffect] {
        if let known = identity, known.pid == pid, live != nil { return [] }
        awaitingWorker = (pid, now.instant + .seconds(2))
        live = nil
        // A backoff from HAProxy being away (a restart) must not delay the re-apply now that it is back.
        retryAt = nil
        backoff.reset()
        if isBusy { return [.scheduleWake(at: now.instant)] }
        return [.closeConnection] + startCycle(now: now)
    }
}
