/// Why a request produced no HTTP response.
public enum HTTPClientError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidRequest(String)
    case dns(String)
    case connect(String)
    case tls(String)
    case timeout(String)
    case transport(String)
    /// The body exceeded `maxBodyBytes` (the limit).
    case tooLarge(Int)
    /// The calling task was cancelled (or the client shut down).
    case cancelled

    public var description: String {
        switch self {
        case .invalidRequest(let m): return "invalid request: \(m)"
        case .dns(let m): return "DNS: \(m)"
        case .connect(let m): return "connect: \(m)"
        case .tls(let m): return "TLS: \(m)"
        case .timeout(let m): return "timeout: \(m)"
        case .transport(let m): return "transport: \(m)"
        case .tooLarge(let limit): return "response body larger than \(limit) bytes"
        case .cancelled: return "cancelled"
        }
    }
}
