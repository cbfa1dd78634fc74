import Synchronization

/// A one-slot signal: `signal()` wakes one waiter, or the next `wait` if none is waiting.
///
/// Used instead of polling: the reconciler sleeps until a change arrives or its next timer is due.
final class Wakeup: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
        var generation = 0
    }
    private let state = Mutex(State())

    func signal() {
        let waiter: CheckedContinuation<Void, Never>? = state.withLock { s in
            if let w = s.waiter {
                s.waiter = nil
                return w
            }
            s.pending = true
            return nil
        }
        waiter?.resume()
    }

    /// Waits until signalled or until `deadline`; returns true when signalled.
    @discardableResult
    func wait(until deadline: ContinuousClock.Instant?) async -> Bool {
        let consumed = state.withLock { s in
            if s.pending { s.pending = false; return true }
            return false
        }
        if consumed { return true }
        let generation = state.withLock { s in s.generation += 1; return s.generation }
        let timer: Task<Void, Never>? = deadline.map { d in
            Task { [weak self] in
                try? await Task.sleep(until: d, clock: .continuous)
                self?.timeout(generation: generation)
            }
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s in
                    if s.pending || s.generation != generation { s.pending = false; return true }
                    s.waiter = c
                    return false
                }
                if resumeNow { c.resume() }
            }
        } onCancel: {
            self.signal()
        }
        timer?.cancel()
        return state.withLock { s in
            // The timer bumps the generation when it fires; otherwise we were signalled.
            s.generation == generation
        }
    }

    private func timeout(generation: Int) {
        let waiter: CheckedContinuation<Void, Never>? = state.withLock { s in
            guard s.generation == generation else { return nil }
            s.generation += 1
            let w = s.waiter
            s.waiter = nil
            return w
        }
        waiter?.resume()
    }
}
