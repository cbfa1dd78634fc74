import DiscoveryCore

/// Capped exponential backoff with full jitter (a random delay between zero and the capped exponential).
///
/// Consul-local until the shared `Backoff` lands in DiscoveryCore; then this file goes.
struct Backoff: Sendable {
    var base: Duration
    var cap: Duration
    private(set) var attempt = 0

    init(base: Duration = .milliseconds(100), cap: Duration = .seconds(5)) {
        self.base = base
        self.cap = cap
    }

    mutating func next() -> Duration {
        let exponent = min(attempt, 20)
        attempt += 1
        let ceiling = min(cap.seconds, base.seconds * Double(1 << exponent))
        return .milliseconds(Int64(Double.random(in: 0...ceiling) * 1000))
    }

    mutating func reset() { attempt = 0 }
}
