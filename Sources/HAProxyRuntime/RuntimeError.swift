/// A failure of the Runtime API connection itself (not a refused command), with how many answers arrived first.
public struct RuntimeError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The socket could not be opened or connected.
        case connect
        /// HAProxy made no progress within the timeout.
        case timeout
        /// HAProxy closed the connection before answering every command.
        case closed
        /// A read or write failed.
        case io
        /// HAProxy answered something that does not follow the interactive protocol.
        case protocolViolation
        /// A `show` answer did not have the shape HAProxy 2.6 gives (the message names the command and line).
        case unexpectedAnswer
    }

    public var kind: Kind
    public var message: String
    /// Commands whose answers arrived before the failure: those took effect; the rest are unknown.
    public var completed: Int

    public init(kind: Kind, message: String, completed: Int = 0) {
        self.kind = kind
        self.message = message
        self.completed = completed
    }

    public var description: String {
        completed > 0 ? "\(kind.rawValue): \(message) (after \(completed) answered command(s))" : "\(kind.rawValue): \(message)"
    }
}
