import DiscoveryCore

/// A guard hold as `GET /status` and `status --json` show it.
public struct GuardHoldStatus: Codable, Sendable, Equatable {
    public var reason: String
    /// Unix time the held answer was first seen.
    public var since: Double
    public var wouldRemove: Int

    public init(_ hold: GuardHold) {
        reason = hold.reason
        since = hold.since
        wouldRemove = hold.wouldRemove
    }
}
