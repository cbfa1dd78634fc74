/// Capped exponential backoff with full jitter: the n-th delay is uniformly random in `0...min(cap, base·2ⁿ)`.
///
/// The one retry rule for HAProxy, state writes, providers and cloud APIs. Full jitter (rather than a fixed part
/// plus a random part) spreads clients that failed together the most, so a recovering peer is not hit in lockstep;
/// its mean is half the ceiling.
public struct Backoff: Sendable {
    public var base: Duration
    public var cap: Duration
    /// Delays handed out since the last `reset()`.
    public private(set) var attempt = 0

    public init(base: Duration = .milliseconds(100), cap: Duration = .seconds(5)) {
        self.base = base
        self.cap = cap
    }

    /// The upper bound of the delay for attempt `n` (0-based): `min(cap, base·2ⁿ)`.
    public func ceiling(attempt n: Int) -> Duration {
        let seconds = min(cap.seconds, base.seconds * Double(1 << min(max(n, 0), 30)))
        return .milliseconds(Int64(seconds * 1000))
    }

    /// The delay before the next attempt; its ceiling grows with each call until `reset()`.
    public mutating func next() -> Duration {
        var rng = SystemRandomNumberGenerator()
        return next(using: &rng)
    }

    /// `next()` with a given random source (for tests).
    public mutating func next<R: RandomNumberGenerator>(using rng: inout R) -> Duration {
        let ceiling = ceiling(attempt: attempt).milliseconds
        attempt += 1
        return .milliseconds(Int64.random(in: 0...max(0, ceiling), using: &rng))
    }

    public mutating func reset() { attempt = 0 }
}
