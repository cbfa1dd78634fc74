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
