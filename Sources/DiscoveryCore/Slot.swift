/// One HAProxy server slot and the instance the bridge put there.
public struct Slot: Sendable, Hashable, Codable {
    /// HAProxy server name, e.g. `slot3`.
    public var server: String
    /// The slot number (the `3` of `slot3`).
    public var number: Int
    /// Created at runtime with `add server` (HAProxy forgets it on restart; the bridge adds it again).
    public var dynamic: Bool
    public var state: SlotState
    /// The namespaced instance id (`provider/id`); nil when free, or when adopted from live state without a record.
    public var instanceID: String?
    public var address: String?
    public var port: Int?
    public var weight: Int
    /// Wall-clock seconds (Unix time) when the slot entered its state.
    public var since: Double
    /// For a draining slot: when it is forced to `maint` whatever its sessions.
    public var drainDeadline: Double?

    public init(
        server: String, number: Int, dynamic: Bool = false, state: SlotState = .free, instanceID: String? = nil,
        address: String? = nil, port: Int? = nil, weight: Int = 1, since: Double = 0, drainDeadline: Double? = nil
    ) {
        self.server = server
        self.number = number
        self.dynamic = dynamic
        self.state = state
        self.instanceID = instanceID
        self.address = address
        self.port = port
        self.weight = weight
        self.since = since
        self.drainDeadline = drainDeadline
    }

    /// `address:port` in HAProxy's notation (IPv6 in brackets), or nil when not set.
    public var endpoint: String? {
        guard let address, let port else { return nil }
        return Endpoint.key(address: address, port: port)
    }

    /// `endpoint` as a key, or nil when not set.
    public var endpointKey: EndpointKey? {
        guard let address, let port else { return nil }
        return EndpointKey(address: address, port: port)
    }
}
