import DiscoveryCore
import Logging
import Synchronization

/// Bounds the requests in flight to one Consul address, and turns refusals (HTTP 429, a connection closed on
/// arrival) into back-pressure: fewer requests at once and one jittered pause shared by every watch.
///
/// Each request holds a permit from `acquire()` to `release()`; a blocking query holds it for its whole wait. The
/// limit starts at the capacity (connections, times streams per connection over HTTP/2), is halved when an episode
/// of refusals starts (never below `floor`), and grows back by one per successful answer once the pause is over.
/// Only an answer to a request sent after the episode started counts: a blocking query Consul took in before the
/// refusals, woken in the middle of them, says nothing about what Consul accepts now. One line is logged when an
/// episode starts and one when it ends.
final class RequestGate: Sendable {
    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<Bool, Never>
    }

    private struct Episode {
        var started: ContinuousClock.Instant
        var refusals: Int
    }

    private struct State {
        var capacity: Int
        var limit: Int
        var inFlight = 0
        var waiters: [Waiter] = []
        var nextID: UInt64 = 0
        var pausedUntil: ContinuousClock.Instant?
        var backoff: Backoff
        var episode: Episode?
        var refusalsTotal = 0
        /// The concurrency Consul refused beyond, remembered for `memory` so the limit does not climb straight back
        /// into the refusal (additive increase would otherwise find it again within seconds, episode after episode).
        var learned: (limit: Int, until: ContinuousClock.Instant)?
    }

    /// How long a refusal's concurrency is remembered before the gate probes above it again.
    static let memory: Duration = .seconds(300)

    private let state: Mutex<State>
    private let floor: Int
    private let logger: Logger
    private let address: String
    /// Called with the new limit whenever it changes (the provider re-plans its watches).
    private let onLimitChange: @Sendable (Int) -> Void

    init(capacity: Int, floor: Int, retryMax: Duration, address: String, logger: Logger, onLimitChange: @escaping @Sendable (Int) -> Void = { _ in }) {
        state = Mutex(State(capacity: capacity, limit: capacity, backoff: Backoff(base: min(.milliseconds(100), retryMax), cap: retryMax)))
        self.floor = floor
        self.address = address
        self.logger = logger
        self.onLimitChange = onLimitChange
    }

    /// Requests allowed at once now.
    var limit: Int { state.withLock { $0.limit } }
    var inFlight: Int { state.withLock { $0.inFlight } }
    /// Refusals (429 or closed on arrival) seen since start.
    var refusals: Int { state.withLock { $0.refusalsTotal } }
    var backingOff: Bool { state.withLock { $0.episode != nil } }

    /// Sets the capacity (learned from the first answer: HTTP/2 multiplies it); the limit follows unless backing off.
    func setCapacity(_ capacity: Int) {
        let changed: Int? = state.withLock { s in
            s.capacity = capacity
            guard s.episode == nil, s.limit != capacity else { return nil }
            s.limit = capacity
            return capacity
        }
        if let changed { onLimitChange(changed); wakeWaiters() }
    }

    /// Waits out a back-off pause and for a free permit. Returns false when the task is cancelled.
    func acquire() async -> Bool {
        while true {
            if Task.isCancelled { return false }
            let pause: Duration? = state.withLock { s in
                guard let until = s.pausedUntil else { return nil }
                let left = until - .now
                if left <= .zero { s.pausedUntil = nil; return nil }
                return left
            }
            if let pause {
                // Spread the retries over a tenth of the pause again, so waiting watches do not send in lockstep.
                let spread = Duration.milliseconds(Int64(Double.random(in: 0...max(0, pause.seconds / 10)) * 1000))
                do { try await Task.sleep(for: pause + spread) } catch { return false }
                continue
            }
            if state.withLock({ s in
                guard s.inFlight < s.limit, s.waiters.isEmpty else { return false }
                s.inFlight += 1
                return true
            }) { return true }
            let id = state.withLock { s in s.nextID += 1; return s.nextID }
            let granted = await withTaskCancellationHandler {
                await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
                    let resumeNow: Bool? = state.withLock { s in
                        if Task.isCancelled { return false }
                        if s.inFlight < s.limit && s.waiters.isEmpty { s.inFlight += 1; return true }
                        s.waiters.append(Waiter(id: id, continuation: c))
                        return nil
                    }
                    if let resumeNow { c.resume(returning: resumeNow) }
                }
            } onCancel: {
                let w: Waiter? = state.withLock { s in
                    guard let i = s.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                    return s.waiters.remove(at: i)
                }
                w?.continuation.resume(returning: false)
            }
            if granted { return true }
            if Task.isCancelled { return false }
        }
    }

    /// Returns a permit taken by `acquire()`.
    func release() {
        state.withLock { $0.inFlight -= 1 }
        wakeWaiters()
    }

    /// A good answer to a request sent at `sentAt`: grows the limit back by one, and ends a refusal episode once its
    /// pause is over. An answer to a request sent before the episode started changes nothing.
    func succeeded(sentAt: ContinuousClock.Instant) {
        let (ended, changed): (Episode?, Int?) = state.withLock { s in
            if let e = s.episode, sentAt < e.started { return (nil, nil) }
            var changed: Int? = nil
            let pauseOver = s.pausedUntil.map { $0 <= .now } ?? true
            if let l = s.learned, l.until <= .now { s.learned = nil }
            if pauseOver, s.limit < min(s.capacity, s.learned?.limit ?? .max) {
                s.limit += 1
                changed = s.limit
            }
            guard let e = s.episode, pauseOver else { return (nil, changed) }
            s.episode = nil
            s.backoff.reset()
            return (e, changed)
        }
        if let ended {
            logger.info("Consul accepts requests again", metadata: [
                "address": "\(address)", "refusals": "\(ended.refusals)",
                "episode_seconds": "\(Int((ContinuousClock.now - ended.started).seconds.rounded()))",
            ])
        }
        if let changed { onLimitChange(changed); wakeWaiters() }
    }

    /// A refusal: starts or extends the episode and its shared pause; returns the pause.
    @discardableResult
    func refused(_ reason: String) -> Duration {
        let (pause, started, changed): (Duration, Bool, Int?) = state.withLock { s in
            s.refusalsTotal += 1
            let delay = max(s.backoff.next(), .milliseconds(20))
            let until = ContinuousClock.now + delay
            if s.pausedUntil.map({ $0 < until }) ?? true { s.pausedUntil = until }
            if s.episode != nil {
                s.episode?.refusals += 1
                return (delay, false, nil)
            }
            s.episode = Episode(started: .now, refusals: 1)
            // What was in flight, less the refused request, is what Consul accepts from us now.
            s.learned = (max(floor, s.inFlight - 1), ContinuousClock.now + Self.memory)
            let lowered = max(floor, min(s.limit, max(s.inFlight, 1)) / 2)
            let changed = lowered != s.limit ? lowered : nil
            s.limit = lowered
            return (delay, true, changed)
        }
        if started {
            logger.warning("Consul is refusing requests; lowering concurrency and backing off", metadata: [
                "address": "\(address)", "reason": "\(reason)", "concurrency": "\(changed ?? limit)",
            ])
        }
        if let changed { onLimitChange(changed) }
        return pause
    }

    private func wakeWaiters() {
        let ready: [Waiter] = state.withLock { s in
            var out: [Waiter] = []
            while s.inFlight < s.limit, !s.waiters.isEmpty {
                s.inFlight += 1
                out.append(s.waiters.removeFirst())
            }
            return out
        }
        for w in ready { w.continuation.resume(returning: true) }
    }
}
