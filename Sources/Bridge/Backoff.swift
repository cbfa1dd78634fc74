/// Capped exponential backoff with full jitter, for retrying HAProxy and failed state writes.
struct Backoff: Sendable {
    var base: Duration
    var cap: Duration
    private(set) var attempt = 0

    init(base: Duration = .milliseconds(100), cap: Duration = .seconds(5)) {
        self.base = base
        self.cap = cap
    }

    /// The delay before the next attempt; grows with each call until `reset()`.
    mutating func next() -> Duration {
        let exponent = min(attempt, 20)
        attempt += 1
        let ceiling = min(cap.seconds, base.seconds * Double(1 << exponent))
        // Half fixed, half random: never zero, never in lockstep with other clients.
        let seconds = ceiling / 2 + Double.random(in: 0...(ceiling / 2))
        return .milliseconds(Int64(seconds * 1000))
    }

    mutating func reset() { attempt = 0 }
}
