/// An instance as a backend wants it: namespaced id, resolved port and weight.
public struct DesiredInstance: Sendable, Hashable, Codable {
    /// `provider/id`, so that equal ids from two providers never collide.
    public var id: String
    public var address: String
    public var port: Int
    public var weight: Int
    public var health: InstanceHealth

    public init(id: String, address: String, port: Int, weight: Int, health: InstanceHealth = .passing) {
        self.id = id
        self.address = address
        self.port = port
        self.weight = weight
        self.health = health
    }

    public var endpoint: String { Endpoint.key(address: address, port: port) }

    /// `endpoint` as a key.
    public var endpointKey: EndpointKey { EndpointKey(address: address, port: port) }
}
