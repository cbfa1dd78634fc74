/// The guard's verdict for one backend.
public struct GuardDecision: Sendable {
    /// What to plan with: the answer itself, or the answer plus the instances it would have removed.
    public var desired: [DesiredInstance]
    /// The hold in force after this decision (nil when the answer is applied as is).
    public var hold: GuardHold?
    /// True when a held answer was released in this decision (confirmed long enough).
    public var released: Bool
}
