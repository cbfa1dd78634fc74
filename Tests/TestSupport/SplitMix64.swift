import Foundation

/// A small, fast, seedable PRNG (SplitMix64) so that every random test can be replayed from its seed.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self) < p }

    public mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }

    /// A generator seeded from `DRILL_SEED` when set (to replay a failure), else at random; returns the seed too.
    public static func seeded(environmentKey: String = "DRILL_SEED") -> (SplitMix64, UInt64) {
        let seed = ProcessInfo.processInfo.environment[environmentKey].flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64(Int32.max))
        return (SplitMix64(seed: seed), seed)
    }
}
