import Synchronization

/// The services the change feed must fetch again: deduplicated, in the order they were first asked for, except that
/// urgent ones (a change the feed named) go before the rest (a sweep or the first read of every service). A service
/// asked for again while its fetch is in flight is fetched once more afterwards, so no change is lost.
final class FetchQueue: Sendable {
    private struct State {
        var order: [WatchKey] = []
        var head = 0
        /// Asked for by a change: fetched before `order`. A key may also sit in `order`; whichever pops first
        /// fetches it (`queued` decides), the other is skipped.
        var urgent: [WatchKey] = []
        var queued: Set<WatchKey> = []
        var inFlight: Set<WatchKey> = []
        var again: Set<WatchKey> = []
        var waiters: [(UInt64, CheckedContinuation<WatchKey?, Never>)] = []
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Services waiting or being fetched.
    var backlog: Int { state.withLock { $0.queued.count + $0.inFlight.count } }

    /// Queues `keys`; `urgent` ones (a change named them) go before everything not urgent, even when already queued
    /// behind a sweep of every service, so a sweep never delays a change by thousands of fetches.
    func enqueue<S: Sequence>(_ keys: S, urgent: Bool = false) where S.Element == WatchKey {
        var handoff: [(CheckedContinuation<WatchKey?, Never>, WatchKey)] = []
        state.withLock { s in
            for k in keys {
                if s.inFlight.contains(k) { s.again.insert(k); continue }
                guard s.queued.insert(k).inserted else {
                    if urgent { s.urgent.append(k) }
                    continue
                }
                if !s.waiters.isEmpty {
                    s.queued.remove(k)
                    s.inFlight.insert(k)
                    handoff.append((s.waiters.removeFirst().1, k))
                } else if urgent {
                    s.urgent.append(k)
                } else {
                    s.order.append(k)
                }
            }
        }
        for (c, k) in handoff { c.resume(returning: k) }
    }

    /// The next service to fetch; nil when the task is cancelled.
    func next() async -> WatchKey? {
        if let k = state.withLock({ s in Self.pop(&s) }) { return k }
        let id = state.withLock { s in s.nextID += 1; return s.nextID }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<WatchKey?, Never>) in
                let now: WatchKey?? = state.withLock { s in
                    if Task.isCancelled { return .some(nil) }
                    if let k = Self.pop(&s) { return .some(k) }
                    s.waiters.append((id, c))
                    return .none
                }
                if let now { c.resume(returning: now) }
            }
        } onCancel: {
            let c: CheckedContinuation<WatchKey?, Never>? = state.withLock { s in
                guard let i = s.waiters.firstIndex(where: { $0.0 == id }) else { return nil }
                return s.waiters.remove(at: i).1
            }
            c?.resume(returning: nil)
        }
    }

    /// Marks a fetch finished: asked for again meanwhile, it is fetched again first; `failed` puts it back at the end.
    func done(_ key: WatchKey, failed: Bool = false) {
        let (again, redo): (Bool, Bool) = state.withLock { s in
            s.inFlight.remove(key)
            let again = s.again.remove(key) != nil
            return (again, again || failed)
        }
        if redo { enqueue([key], urgent: again) }
    }

    /// Forgets services no longer watched (a fetch in flight finishes, but is not repeated).
    func drop(_ keys: Set<WatchKey>) {
        state.withLock { s in
            s.queued.subtract(keys)
            s.again.subtract(keys)
        }
    }

    private static func pop(_ s: inout State) -> WatchKey? {
        while !s.urgent.isEmpty {
            let k = s.urgent.removeFirst()
            if s.queued.remove(k) != nil {
                s.inFlight.insert(k)
                return k
            }
        }
        while s.head < s.order.count {
            let k = s.order[s.head]
            s.head += 1
            if s.head > 1024, s.head * 2 > s.order.count {
                s.order.removeFirst(s.head)
                s.head = 0
            }
            if s.queued.remove(k) != nil {
                s.inFlight.insert(k)
                return k
            }
        }
        return nil
    }
}
