import Foundation

/// Drill sizes: `DRILLS=full` (make drills) runs the counts; otherwise CI-sized counts.
enum Drill {
    static let full = ProcessInfo.processInfo.environment["DRILLS"] == "full"

    static func scale(ci: Int, full fullCount: Int) -> Int { full ? fullCount : ci }

    static func report(_ name: String, _ figures: [(String, String)]) {
        print("drill \(name): " + figures.map { "\($0.0)=\($0.1)" }.joined(separator: " "))
    }
}

/// A deterministic RNG, so a failing drill can be replayed with its seed (`DRILL_SEED`).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    static func seeded() -> (SplitMix64, UInt64) {
        let seed = ProcessInfo.processInfo.environment["DRILL_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64(Int32.max))
        return (SplitMix64(seed: seed), seed)
    }
}
