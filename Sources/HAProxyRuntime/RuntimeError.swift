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

/// The answer to one command and whether HAProxy accepted it.
public struct CommandOutcome: Sendable, Hashable {
    /// The command line as sent.
    public var line: String
    /// HAProxy's answer, without the trailing prompt and blank line.
    public var answer: String
    /// Why the command counts as failed (HAProxy's message, or ours for a line never sent); nil on success.
    public var error: String?

    public init(line: String, answer: String, error: String?) {
        self.line = line
        self.answer = answer
        self.error = error
    }

    public var succeeded: Bool { error == nil }
}
