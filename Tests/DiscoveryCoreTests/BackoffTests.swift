import DiscoveryCore
import TestSupport
import XCTest

final class BackoffTests: XCTestCase {
    func test_ceilings_double_from_the_base_up_to_the_cap() {
        let b = Backoff(base: .milliseconds(100), cap: .seconds(5))
        XCTAssertEqual((0...7).map { b.ceiling(attempt: $0) }, [
            .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(1600),
            .milliseconds(3200), .seconds(5), .seconds(5),
        ])
        XCTAssertEqual(b.ceiling(attempt: 10_000), .seconds(5), "a long outage never overflows")
    }

    func test_full_jitter_spreads_each_delay_between_zero_and_its_ceiling() {
        var rng = SplitMix64(seed: 7)
        var low = 0, high = 0
        for _ in 0..<2000 {
            var b = Backoff(base: .milliseconds(100), cap: .seconds(1))
            for attempt in 0..<6 {
                let d = b.next(using: &rng)
                let ceiling = b.ceiling(attempt: attempt)
                XCTAssertGreaterThanOrEqual(d, .zero)
                XCTAssertLessThanOrEqual(d, ceiling)
                if attempt == 5 {
                    if d < ceiling / 4 { low += 1 }
                    if d > ceiling * 3 / 4 { high += 1 }
                }
            }
        }
        // Full jitter, not "half fixed, half random": the lowest quarter is as likely as the highest.
        XCTAssertGreaterThan(low, 350)
        XCTAssertGreaterThan(high, 350)
    }

    func test_reset_starts_again_from_the_base() {
        var b = Backoff(base: .milliseconds(100), cap: .seconds(5))
        for _ in 0..<5 { _ = b.next() }
        XCTAssertEqual(b.attempt, 5)
        b.reset()
        XCTAssertEqual(b.attempt, 0)
        XCTAssertLessThanOrEqual(b.next(), .milliseconds(100))
    }
}
