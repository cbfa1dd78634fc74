/// The health of a discovered instance, in the order an operator ranks them: maintenance beats critical beats warning.
public enum InstanceHealth: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    case passing
    case warning
    case critical
    case maintenance

    private var rank: Int {
        switch self {
        case .passing: return 0
        case .warning: return 1
        case .critical: return 2
        case .maintenance: return 3
        }
    }

    public static func < (a: InstanceHealth, b: InstanceHealth) -> Bool { a.rank < b.rank }

    /// The worst of several health states (maintenance > critical > warning > passing).
    public static func aggregate<S: Sequence>(_ states: S) -> InstanceHealth where S.Element == InstanceHealth {
        states.max() ?? .passing
    }
}
