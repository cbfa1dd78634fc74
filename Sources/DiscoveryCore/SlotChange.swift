/// What the planner decided for one slot, for logs and metrics.
public struct SlotChange: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        case assigned, updated, reactivated, draining, freed, added, adopted, repaired, missing
    }
    public var kind: Kind
    public var server: String
    public var instanceID: String?
    public var detail: String

    public var description: String {
        "\(kind.rawValue) \(server)\(instanceID.map { " instance=\($0)" } ?? "")\(detail.isEmpty ? "" : " \(detail)")"
    }
}
