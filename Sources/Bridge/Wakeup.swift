import Dispatch
import Synchronization

/// A one-slot signal: `signal()` wakes the waiter, or the next `wait` if none is waiting.
///
/// Used instead of polling: the reconciler sleeps until a change arrives or its next timer is due. Waiters treat a
/// wake-up as "look again", never as the news itself, so a signal that races a deadline loses nothing.
///
/// A signal resumes the waiter's own continuation, so an actor's waiting loop runs next on that actor, often on the
/// thread that signalled: no task is started per wait. A deadline is one dispatch timer, re-armed by every wait;
/// its firing is a signal like any other.
final class Wakeup: @unchecked Sendable {
    // @unchecked: `state` is behind its mutex; `timer` is a dispatch source, which may be scheduled from any thread.
    private struct State {
        var pending = false
        var waiter: (id: Int, continuation: CheckedContinuation<Void, Never>)?
        var nextID = 0
    }
    private let state = Mutex(State())
    private let timer: any DispatchSourceTimer

    init() {
        timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .distantFuture, leeway: .nanoseconds(0))
        timer.setEventHandler { [weak self] in self?.signal() }
        timer.activate()
    }

    deinit {
        timer.setEventHandler {}
        timer.cancel()
    }

    func signal() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if let w = s.waiter {
                s.waiter = nil
                return w.continuation
            }
            s.pending = true
            return nil
        }
        waiter?.resume()
    }

    /// Waits until signalled, until `deadline`, or until the task is cancelled.
    func wait(until deadline: ContinuousClock.Instant?) async {
        if state.withLock({ s in defer { s.pending = false }; return s.pending }) { return }
        var when = DispatchTime.distantFuture
        if let deadline {
            let left = deadline - .now
            if left <= .zero { return }
            let c = left.components
            if c.seconds < 86_400 * 365 {
                when = .now() + .nanoseconds(max(1, Int(c.seconds) * 1_000_000_000 + Int(c.attoseconds / 1_000_000_000)))
            }
        }
        // Re-armed before waiting: a timer that fires before the waiter is in place leaves `pending` set.
        timer.schedule(deadline: when, leeway: .nanoseconds(0))
        await waitForSignal()
    }

    private func waitForSignal() async {
        let id = state.withLock { s in s.nextID += 1; return s.nextID }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.pending || Task.isCancelled {
                        s.pending = false
                        return true
                    }
                    s.waiter = (id, c)
                    return false
                }
                if resumeNow { c.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
                guard let w = s.waiter, w.id == id else { return nil }
                s.waiter = nil
                return w.continuation
            }
            waiter?.resume()
        }
    }
}
