/// Where HAProxy's Runtime API listens: a UNIX stats socket or a TCP `stats socket ipv4@HOST:PORT`.
///
/// The one endpoint type: config parsing (DiscoveryCore, `haproxy.runtime_api`) and the client (HAProxyRuntime)
/// both use it. It lives in HAProxyModel, a leaf module of plain values that both depend on, so the graph stays one
/// way (Basics ← HAProxyModel ← DiscoveryCore, HAProxyRuntime ← Bridge): the client never imports the core, and the
/// core never links socket code or Runtime API text.
public enum RuntimeEndpoint: Sendable, Hashable, CustomStringConvertible {
    case unix(path: String)
    case tcp(host: String, port: Int)

    /// Parses `unix:/run/haproxy/api.sock`, `tcp:127.0.0.1:9999` or `tcp:[::1]:9999`; a bare absolute path is a UNIX socket.
    public static func parse(_ text: String) -> RuntimeEndpoint? {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            return path.isEmpty ? nil : .unix(path: path)
        }
        if text.hasPrefix("/") { return .unix(path: text) }
        if text.hasPrefix("tcp:") {
            let rest = text.dropFirst(4)
            guard let colon = rest.lastIndex(of: ":") else { return nil }
            var host = String(rest[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty, let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port) else { return nil }
            return .tcp(host: host, port: port)
        }
        return nil
    }

    /// The form `parse` reads back: `unix:/path`, `tcp:host:port`, `tcp:[v6]:port`.
    public var description: String {
        switch self {
        case .unix(let path): return "unix:\(path)"
        case .tcp(let host, let port): return host.contains(":") ? "tcp:[\(host)]:\(port)" : "tcp:\(host):\(port)"
        }
    }
}
