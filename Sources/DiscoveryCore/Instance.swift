/// One discovered instance of a service, as a provider reports it.
public struct Instance: Sendable, Hashable, Codable {
    /// Stable identity across snapshots (Consul service ID + node, EC2 instance id, file entry id).
    public var id: String
    /// An IPv4 or IPv6 address literal; HAProxy's `set server addr` takes no host names.
    public var address: String
    /// The port; nil means "use the backend's `port`".
    public var port: Int?
    /// HAProxy weight 0...256; nil means the backend's default weight.
    public var weight: Int?
    public var health: InstanceHealth
    public var tags: [String]
    public var meta: [String: String]

    public init(
        id: String, address: String, port: Int? = nil, weight: Int? = nil,
        health: InstanceHealth = .passing, tags: [String] = [], meta: [String: String] = [:]
    ) {
        self.id = id
        self.address = address
        self.port = port
        self.weight = weight
        self.health = health
        self.tags = tags
        self.meta = meta
    }
}
