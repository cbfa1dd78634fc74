/// A destructive answer being held back, and since when it has been seen unchanged.
public struct GuardHold: Sendable, Hashable, Codable {
    /// Sorted instance ids of the held answer: the same answer keeps its timer, a different one restarts it.
    public var fingerprint: [String]
    /// Wall-clock seconds when this exact answer was first seen.
    public var since: Double
    public var reason: String
    /// How many currently served instances the answer would remove.
    public var wouldRemove: Int

    public init(fingerprint: [String], since: Double, reason: String, wouldRemove: Int) {
        self.fingerprint = fingerprint
        self.since = since
        self.reason = reason
        self.wouldRemove = wouldRemove
    }
}
