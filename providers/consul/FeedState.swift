import Synchronization

/// The change feed's memory: the last check baseline, which services are watched, and which nodes each was seen on.
final class FeedState: Sendable {
    private struct State {
        var checks: [String: ConsulCheck] = [:]
        var stateIndex: UInt64 = 0
        /// Consul indexes that check changes explained, most recent last (bounded).
        var explained: [UInt64] = []
        var explainedSet: Set<UInt64> = []
        var selected: Set<WatchKey> = []
        var watched: Set<WatchKey> = []
        var byName: [String: Set<WatchKey>] = [:]
        var nodesOf: [WatchKey: Set<String>] = [:]
        var byNode: [String: Set<WatchKey>] = [:]
    }

    private let state = Mutex(State())
    private let fixed: Set<WatchKey>

    init(fixed: Set<WatchKey>) {
        self.fixed = fixed
        state.withLock { s in
            s.watched = fixed
            for k in fixed { s.byName[k.service, default: []].insert(k) }
        }
    }

    var watched: Set<WatchKey> { state.withLock { $0.watched } }
    func isWatched(_ key: WatchKey) -> Bool { state.withLock { $0.watched.contains(key) } }
    func keys(named name: String) -> Set<WatchKey> { state.withLock { $0.byName[name] ?? [] } }

    func setChecks(_ checks: [ConsulCheck], index: UInt64) {
        state.withLock { s in
            s.checks = Dictionary(checks.map { ($0.key, $0) }, uniquingKeysWith: { _, b in b })
            s.stateIndex = index
        }
    }

    /// Diffs a new check answer against the last one; returns the watches it touches.
    func receiveChecks(_ checks: [ConsulCheck], index: UInt64) -> Set<WatchKey> {
        state.withLock { s in
            let (diff, next) = CheckDiff.between(s.checks, checks, answerIndex: index)
            s.checks = next
            s.stateIndex = index
            var out = Set<WatchKey>()
            if !diff.isEmpty {
                for i in diff.indexes.union([index]) where s.explainedSet.insert(i).inserted { s.explained.append(i) }
                if s.explained.count > 4096 {
                    for i in s.explained.prefix(2048) { s.explainedSet.remove(i) }
                    s.explained.removeFirst(2048)
                }
                for name in diff.services { out.formUnion(s.byName[name] ?? []) }
                for node in diff.nodes { out.formUnion(s.byNode[node] ?? []) }
            }
            return out
        }
    }

    /// Whether a check change explains Consul index `index`, waiting up to `window` for the check feed to get there.
    func explains(_ index: UInt64, within window: Duration) async -> Bool {
        let deadline = ContinuousClock.now + window
        while true {
            let (reached, known) = state.withLock { ($0.stateIndex >= index, $0.explainedSet.contains(index)) }
            if known { return true }
            if reached || ContinuousClock.now >= deadline { return false }
            // Rare (a catalog move no name or tag change explains) and bounded by the window: a short poll is simpler
            // than a wake-up channel between the two loops.
            do { try await Task.sleep(for: .milliseconds(5)) } catch { return true }
        }
    }

    /// Sets the selector matches; returns the watches added and removed.
    func setSelected(_ selected: Set<WatchKey>) -> (Set<WatchKey>, Set<WatchKey>) {
        state.withLock { s in
            let next = fixed.union(selected)
            let added = next.subtracting(s.watched)
            let removed = s.watched.subtracting(next)
            s.selected = selected
            s.watched = next
            for k in added { s.byName[k.service, default: []].insert(k) }
            for k in removed {
                s.byName[k.service]?.remove(k)
                for n in s.nodesOf.removeValue(forKey: k) ?? [] { s.byNode[n]?.remove(k) }
            }
            return (added, removed)
        }
    }

    /// Records the nodes a watch's instances live on (a node check change then refetches it).
    func noteNodes(_ key: WatchKey, _ nodes: Set<String>) {
        state.withLock { s in
            guard s.watched.contains(key) else { return }
            let old = s.nodesOf[key] ?? []
            guard old != nodes else { return }
            for n in old.subtracting(nodes) { s.byNode[n]?.remove(key) }
            for n in nodes.subtracting(old) { s.byNode[n, default: []].insert(key) }
            s.nodesOf[key] = nodes
        }
    }
}
