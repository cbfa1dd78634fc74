/// An entry that was skipped, with the service and instance it came from.
public struct MappingWarning: Error, Sendable, Hashable, CustomStringConvertible {
    public var service: String
    public var id: String
    public var reason: String
    public var description: String { "skipping \(service) instance \(id): \(reason)" }
}
