import DiscoveryCore
import Logging
import Synchronization

/// Combines answers into per-source snapshots and emits an update only when a source's instances (or its suspect
/// state) change. Synchronous and locked, so updates leave in answer order.
final class SnapshotAssembler: Sendable {
    private struct Published: Equatable {
        var instances: [Instance]
        var suspect: String?
    }

    private struct State {
        var answers: [WatchKey: (entries: [ConsulHealthEntry], distrust: String?)] = [:]
        /// Watches making up each selector source; nil until the catalog answered.
        var members: [String: Set<WatchKey>] = [:]
        var published: [String: Published] = [:]
        var warnings: [String: Set<MappingWarning>] = [:]
    }

    private let sources: [ConsulSource]
    /// Sources naming one service, by their watch: a receive finds what it affects without scanning every source.
    private let fixed: [WatchKey: [ConsulSource]]
    private let selectors: [ConsulSource]
    private let state = Mutex(State())
    private let updates: AsyncStream<ProviderUpdate>.Continuation
    private let logger: Logger

    init(sources: [ConsulSource], updates: AsyncStream<ProviderUpdate>.Continuation, logger: Logger) {
        self.sources = sources
        var fixed: [WatchKey: [ConsulSource]] = [:]
        for src in sources {
            if case .name(let n) = src.selector { fixed[WatchKey(service: n, params: src.params), default: []].append(src) }
        }
        self.fixed = fixed
        selectors = sources.filter { if case .name = $0.selector { return false } else { return true } }
        self.updates = updates
        self.logger = logger
    }

    func receive(_ key: WatchKey, entries: [ConsulHealthEntry], distrust: String?) {
        state.withLock { s in
            s.answers[key] = (entries, distrust)
            let affected = (fixed[key] ?? []) + selectors.filter { s.members[$0.key]?.contains(key) ?? false }
            emit(affected, &s)
        }
    }

    /// Whether `key` has an answer (the feed fetches what has none yet).
    func hasAnswer(_ key: WatchKey) -> Bool { state.withLock { $0.answers[key] != nil } }

    func setMembers(_ members: [String: Set<WatchKey>], forget: Set<WatchKey>) {
        state.withLock { s in
            for k in forget { s.answers[k] = nil }
            var affected: [ConsulSource] = []
            for src in sources {
                guard let m = members[src.key], s.members[src.key] != m else { continue }
                s.members[src.key] = m
                affected.append(src)
            }
            emit(affected, &s)
        }
    }

    private func keys(of src: ConsulSource, _ s: State) -> Set<WatchKey>? {
        if case .name(let n) = src.selector { return [WatchKey(service: n, params: src.params)] }
        return s.members[src.key]
    }

    private func emit(_ affected: [ConsulSource], _ s: inout State) {
        var bySuspect: [String?: [String: [Instance]]] = [:]
        for src in affected {
            guard let keys = keys(of: src, s) else { continue }
            var instances: [String: Instance] = [:]
            var distrust: String? = nil
            var warnings: Set<MappingWarning> = []
            var ready = true
            for key in keys.sorted(by: { $0.service < $1.service }) {
                guard let answer = s.answers[key] else { ready = false; break }
                if let d = answer.distrust { distrust = d }
                for entry in answer.entries {
                    switch ConsulMapping.instance(from: entry, address: src.addressMode, service: key.service) {
                    case .success(let i):
                        if instances[i.id] != nil {
                            warnings.insert(MappingWarning(service: key.service, id: i.id, reason: "duplicate instance id"))
                        } else {
                            instances[i.id] = i
                        }
                    case .failure(let w): warnings.insert(w)
                    }
                }
            }
            guard ready else { continue }  // a member service has not answered yet: wait rather than publish a partial list
            if s.warnings[src.key] != warnings {
                for w in warnings.subtracting(s.warnings[src.key] ?? []) {
                    logger.warning("\(w.description)", metadata: ["source": "\(src.key)"])
                }
                s.warnings[src.key] = warnings
            }
            let list = instances.values.sorted { $0.id < $1.id }
            let previous = s.published[src.key]
            var suspect: String? = nil
            if let distrust {
                let previousCount = previous?.instances.count ?? 0
                if list.isEmpty {
                    suspect = "\(distrust); answer is empty"
                } else if list.count * 2 < previousCount {
                    suspect = "\(distrust); answer shrinks \(previousCount) instances to \(list.count)"
                }
            }
            let next = Published(instances: list, suspect: suspect)
            guard next != previous else { continue }
            s.published[src.key] = next
            bySuspect[suspect, default: [:]][src.key] = list
        }
        for (suspect, sources) in bySuspect.sorted(by: { ($0.key ?? "") < ($1.key ?? "") }) {
            if let suspect { logger.warning("publishing a suspect answer", metadata: ["reason": "\(suspect)"]) }
            updates.yield(ProviderUpdate(provider: "consul", sources: sources, suspectReason: suspect))
        }
    }
}
