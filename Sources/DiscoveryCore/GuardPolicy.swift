/// Limits on destructive changes; a change beyond them is held rather than applied.
public struct GuardPolicy: Sendable, Hashable {
    /// A change removing more than this fraction of a backend's live servers at once is held.
    public var maxRemovedFraction: Double
    /// A change leaving fewer live servers than this is held.
    public var minServers: Int
    /// A held answer is applied once it has persisted this long.
    public var confirmAfter: Duration
    /// Whether a completely empty answer may ever be applied (after `confirmAfter`).
    public var allowEmpty: Bool

    public init(maxRemovedFraction: Double = 0.5, minServers: Int = 1, confirmAfter: Duration = .seconds(30), allowEmpty: Bool = false) {
        self.maxRemovedFraction = maxRemovedFraction
        self.minServers = minServers
        self.confirmAfter = confirmAfter
        self.allowEmpty = allowEmpty
    }
}
