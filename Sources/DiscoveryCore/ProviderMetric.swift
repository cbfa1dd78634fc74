/// One figure a provider measures about itself, named as it is exported (`discovery_bridge_consul_connections`).
public struct ProviderMetric: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// A value that goes up and down.
        case gauge
        /// A running total since the provider started (only grows).
        case counter
    }

    public var name: String
    public var help: String
    public var kind: Kind
    public var labels: [String: String]
    public var value: Double

    public init(name: String, help: String, kind: Kind, labels: [String: String] = [:], value: Double) {
        self.name = name
        self.help = help
        self.kind = kind
        self.labels = labels
        self.value = value
    }
}
