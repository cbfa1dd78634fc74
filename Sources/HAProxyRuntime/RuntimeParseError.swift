/// A `show` answer that does not have the shape HAProxy 2.6 gives.
public struct RuntimeParseError: Error, Sendable, CustomStringConvertible {
    public var command: String
    public var message: String
    public var line: Int?

    public var description: String {
        if let line { return "\(command): line \(line): \(message)" }
        return "\(command): \(message)"
    }
}
