/// The metrics and health HTTP endpoint.
public struct MetricsSettings: Sendable, Equatable {
    public var host: String
    public var port: Int
}
