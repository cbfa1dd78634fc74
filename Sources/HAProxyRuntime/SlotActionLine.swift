extension SlotAction {
    /// The action's Runtime API command line, exactly as sent.
    public var line: String {
        switch self {
        case .setAddress(let b, let s, let a, let p): return "set server \(b)/\(s) addr \(a) port \(p)"
        case .setState(let b, let s, let st): return "set server \(b)/\(s) state \(st.rawValue)"
        case .setWeight(let b, let s, let w): return "set weight \(b)/\(s) \(w)"
        case .addServer(let b, let s, let o):
            let placeholder = PlaceholderAddress.endpoint
            return o.isEmpty ? "add server \(b)/\(s) \(placeholder)" : "add server \(b)/\(s) \(placeholder) \(o)"
        case .enableHealth(let b, let s): return "enable health \(b)/\(s)"
        }
    }
}
