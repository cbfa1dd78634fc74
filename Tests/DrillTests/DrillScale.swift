import Foundation

/// Drill sizes: `DRILLS=full` (make drills) runs the counts; otherwise CI-sized counts.
enum Drill {
    static let full = ProcessInfo.processInfo.environment["DRILLS"] == "full"

    static func scale(ci: Int, full fullCount: Int) -> Int { full ? fullCount : ci }

    static func report(_ name: String, _ figures: [(String, String)]) {
        print("drill \(name): " + figures.map { "\($0.0)=\($0.1)" }.joined(separator: " "))
    }
}
