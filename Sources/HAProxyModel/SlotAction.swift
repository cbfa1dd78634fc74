/// One change the planner wants made to an HAProxy server: a domain action, not text.
///
/// HAProxyRuntime renders each action to its Runtime API line (`SlotAction.line`), sends a batch and answers with
/// one `ActionResult` per action, carrying the action, so callers never parse command text back.
public enum SlotAction: Sendable, Hashable {
    case setAddress(backend: String, server: String, address: String, port: Int)
    case setState(backend: String, server: String, state: AdminState)
    case setWeight(backend: String, server: String, weight: Int)
    /// Creates a server at runtime, at the placeholder address; HAProxy creates it in maintenance.
    case addServer(backend: String, server: String, options: String)
    /// Starts health checks of a dynamic server (they start disabled).
    case enableHealth(backend: String, server: String)

    public var backend: String {
        switch self {
        case .setAddress(let b, _, _, _), .setState(let b, _, _), .setWeight(let b, _, _), .addServer(let b, _, _), .enableHealth(let b, _): return b
        }
    }

    public var server: String {
        switch self {
        case .setAddress(_, let s, _, _), .setState(_, let s, _), .setWeight(_, let s, _), .addServer(_, let s, _), .enableHealth(_, let s): return s
        }
    }

    /// What aspect of a server the action sets, for "already commanded" checks.
    public var aspect: Aspect {
        switch self {
        case .setAddress: return .address
        case .setState: return .state
        case .setWeight: return .weight
        case .addServer: return .existence
        case .enableHealth: return .health
        }
    }

    /// The part of a server an action changes.
    public enum Aspect: String, Sendable, Hashable {
        case address, state, weight, existence, health
    }

    /// A short human summary for logs and change details (`addr 10.0.0.1:80`, `state drain`, `weight 3`).
    public var summary: String {
        switch self {
        case .setAddress(_, _, let a, let p): return "addr \(Endpoint.key(address: a, port: p))"
        case .setState(_, _, let st): return "state \(st.rawValue)"
        case .setWeight(_, _, let w): return "weight \(w)"
        case .addServer(_, _, let o): return o.isEmpty ? "added" : "added (\(o))"
        case .enableHealth: return "health checks on"
        }
    }
}
