/// What the planner decided for one slot, for logs and metrics.
public struct SlotChange: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        case assigned, updated, reactivated, draining, freed, added, adopted, repaired, missing
    }
    public var kind: Kind
    public var server: String
    public var instanceID: String?
    /// Free text on the change (for an assignment, the instance's `address:port`).
    public var detail: String {
        get {
            switch note {
            case .text(let text): text
            case .endpoint(let key): key.text
            }
        }
        set { note = .text(newValue) }
    }

    /// An assignment's endpoint is kept as it is and written only when read: a cold sync makes ten thousand
    /// assignments that nobody reads at the default log level, and writing each one's text was a tenth of planning.
    private enum Note: Sendable {
        case text(String)
        case endpoint(EndpointKey)
    }
    private var note: Note

    public init(kind: Kind, server: String, instanceID: String?, detail: String) {
        self.kind = kind
        self.server = server
        self.instanceID = instanceID
        note = .text(detail)
    }

    /// A change whose detail is `endpoint`'s text.
    public init(kind: Kind, server: String, instanceID: String?, endpoint: EndpointKey) {
        self.kind = kind
        self.server = server
        self.instanceID = instanceID
        note = .endpoint(endpoint)
    }

    public static func == (a: SlotChange, b: SlotChange) -> Bool {
        a.kind == b.kind && a.server == b.server && a.instanceID == b.instanceID && a.detail == b.detail
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(kind)
        hasher.combine(server)
        hasher.combine(instanceID)
        hasher.combine(detail)
    }

    public var description: String {
        "\(kind.rawValue) \(server)\(instanceID.map { " instance=\($0)" } ?? "")\(detail.isEmpty ? "" : " \(detail)")"
    }
}
