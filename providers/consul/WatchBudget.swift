import Synchronization

/// What decides between one blocking query per watch and the change feed: how many watches there are and how many
/// requests the gate allows at once. Runners wait on it for the decision to change.
final class WatchBudget: Sendable {
    enum Mode: Sendable, Equatable, CustomStringConvertible {
        case perService
        case feed
        var description: String { self == .perService ? "per_service" : "feed" }
    }

    private struct State {
        var watches: Int
        var limit: Int
        var version = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Mutex<State>
    private let configured: ConsulWatchMode
    /// Blocking queries besides the watches (the catalog loop, when a source selects by prefix or tag).
    private let extra: Int

    /// Told the requests the watches will keep in flight (the client sizes its HTTP/2 connections to them).
    private let onWatches: @Sendable (Int) -> Void

    init(configured: ConsulWatchMode, watches: Int, limit: Int, extra: Int, onWatches: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.onWatches = onWatches
        state = Mutex(State(watches: watches, limit: limit))
        self.configured = configured
        self.extra = extra
    }

    var watches: Int { state.withLock { $0.watches } }
    var limit: Int { state.withLock { $0.limit } }

    /// The mode now, with hysteresis: per-service watching resumes only when the watches fit in three quarters of
    /// the limit, so a limit that hovers does not flip the provider back and forth.
    func decide(current: Mode?) -> Mode {
        switch configured {
        case .perService: return .perService
        case .feed: return .feed
        case .auto:
            let (w, l) = state.withLock { ($0.watches + extra, $0.limit) }
            if current == .feed { return w * 4 <= l * 3 ? .perService : .feed }
            return w <= l ? .perService : .feed
        }
    }

    func setWatches(_ n: Int) {
        update { $0.watches = n }
        // The feed keeps two blocking queries and up to 64 fetches in flight; per-service, one query per watch.
        onWatches(decide(current: nil) == .feed ? 66 : n + extra)
    }
    func setLimit(_ n: Int) { update { $0.limit = n } }

    private func update(_ change: (inout State) -> Void) {
        let waiters: [CheckedContinuation<Void, Never>] = state.withLock { s in
            change(&s)
            s.version += 1
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w.resume() }
    }

    /// Returns once the decision differs from `mode` (or the task is cancelled).
    func waitUntilNot(_ mode: Mode) async {
        while !Task.isCancelled, decide(current: mode) == mode {
            let seen = state.withLock { $0.version }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let now = state.withLock { s -> Bool in
                        if s.version != seen || Task.isCancelled { return true }
                        s.waiters.append(c)
                        return false
                    }
                    if now { c.resume() }
                }
            } onCancel: {
                update { _ in }
            }
        }
    }
}
