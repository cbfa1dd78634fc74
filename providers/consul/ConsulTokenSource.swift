/// Where the ACL token comes from; its `description` never shows the secret.
public enum ConsulTokenSource: Sendable, Equatable, CustomStringConvertible {
    case none
    case literal(String)
    /// A file holding the token, re-read whenever it changes.
    case file(String)

    public var description: String {
        switch self {
        case .none: return "none"
        case .literal: return "literal(<redacted>)"
        case .file(let path): return "file(\(path))"
        }
    }
}
