/// The merged wishes of one backend's sources.
public struct DesiredBackend: Sendable {
    public var backend: String
    /// Nil until every source of the backend has delivered its first snapshot: nothing is planned before.
    public var instances: [DesiredInstance]?
    /// Instances excluded by the health policy (counted, not planned).
    public var excludedByHealth: Int
    public var rejected: [RejectedInstance]
}
