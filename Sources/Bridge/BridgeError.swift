import HAProxyRuntime

/// Failures of the bridge itself, carrying what failed and where.
public enum BridgeError: Error, Sendable, CustomStringConvertible {
    /// HAProxy could not be reached or the connection failed.
    case haproxy(String)
    /// HAProxy answered something we could not parse.
    case haproxyAnswer(String)
    case state(String)

    /// A Runtime API failure, split into "could not talk" and "talked nonsense".
    public init(_ error: RuntimeError) {
        self = error.kind == .unexpectedAnswer ? .haproxyAnswer(error.message) : .haproxy(error.description)
    }

    public var description: String {
        switch self {
        case .haproxy(let m): return "HAProxy runtime API: \(m)"
        case .haproxyAnswer(let m): return "unexpected HAProxy answer: \(m)"
        case .state(let m): return "state file: \(m)"
        }
    }
}
