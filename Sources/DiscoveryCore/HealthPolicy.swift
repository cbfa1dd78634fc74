/// Which instance health states a backend admits.
public enum HealthPolicy: String, Sendable, Hashable, Codable {
    case passing
    case passingOrWarning = "passing_or_warning"
    /// Every state but maintenance: HAProxy's own checks decide. Maintenance is an operator's explicit "out".
    case any

    public func admits(_ health: InstanceHealth) -> Bool {
        switch self {
        case .passing: return health == .passing
        case .passingOrWarning: return health == .passing || health == .warning
        case .any: return health != .maintenance
        }
    }
}
