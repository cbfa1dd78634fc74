/// Token bucket: `burst` requests at once, then one per `interval`. Pure; the caller sleeps the returned delay.
struct TokenBucket: Sendable {
    var interval: Duration
    var burst: Double = 2
    private var tokens: Double
    private var last: ContinuousClock.Instant?

    init(interval: Duration, burst: Double = 2) {
        self.interval = interval
        self.burst = burst
        self.tokens = burst
    }

    /// Takes one token at `now`; returns how long to wait before sending.
    mutating func take(now: ContinuousClock.Instant) -> Duration {
        if let last {
            tokens = min(burst, tokens + (now - last) / interval)
        }
        last = now
        tokens -= 1
        return tokens >= 0 ? .zero : interval * (-tokens)
    }
}
