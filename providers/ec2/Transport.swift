import CurlHTTP
/// Why an EC2, STS or IMDS round trip failed; descriptions never contain credentials.
public enum EC2Error: Error, Sendable, Equatable, CustomStringConvertible {
    /// The request did not complete (DNS, connect, TLS, timeout, reset).
    case transport(String)
    /// The service answered with an error document or status.
    case api(status: Int, code: String, message: String)
    /// The answer could not be understood (not XML, wrong document, unexpected status without error body).
    case malformed(String)
    /// No credentials could be found or fetched.
    case credentials(String)
    /// No region is configured and none could be found.
    case region(String)

    public var description: String {
        switch self {
        case .transport(let m): return "request failed: \(m)"
        case .api(let status, let code, let message):
            return message.isEmpty ? "HTTP \(status) \(code)" : "HTTP \(status) \(code): \(message)"
        case .malformed(let m): return "unexpected answer: \(m)"
        case .credentials(let m): return "credentials: \(m)"
        case .region(let m): return "region: \(m)"
        }
    }

    /// Throttling or a temporary server-side problem (HTTP 429/5xx): retry after a jittered backoff.
    public var isRetryable: Bool {
        switch self {
        case .api(let status, let code, _):
            if ["RequestLimitExceeded", "Throttling", "ThrottlingException", "RequestThrottled",
                "ServiceUnavailable", "Unavailable", "InternalError", "InternalFailure"].contains(code) { return true }
            return status == 429 || status >= 500
        default: return false
        }
    }

    /// The credentials were refused or expired: fetch fresh ones and retry once.
    public var isAuthFailure: Bool {
        if case .api(_, let code, _) = self {
            return ["AuthFailure", "ExpiredToken", "ExpiredTokenException", "RequestExpired", "InvalidClientTokenId",
                    "SignatureDoesNotMatch"].contains(code)
        }
        return false
    }
}

/// How a request is to be signed with AWS Signature Version 4.
public struct AWSSigning: Sendable {
    public var region: String
    /// `ec2` or `sts`.
    public var service: String
    public var credentials: AWSCredentials

    public init(region: String, service: String, credentials: AWSCredentials) {
        self.region = region
        self.service = service
        self.credentials = credentials
    }
}

/// One HTTP request of the provider, independent of the HTTP client that carries it.
public struct AWSRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]?
    public var timeout: Duration
    public var connectTimeout: Duration
    public var signing: AWSSigning?

    public init(method: String, url: String, headers: [(name: String, value: String)] = [], body: [UInt8]? = nil,
                timeout: Duration, connectTimeout: Duration = .seconds(5), signing: AWSSigning? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.connectTimeout = connectTimeout
        self.signing = signing
    }
}

/// An HTTP answer: status, lower-cased header names and the body.
public struct AWSResponse: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: [UInt8]

    public init(status: Int, headers: [String: String] = [:], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// The seam between the provider and the HTTP client; the shipped provider uses `CurlTransport`.
public protocol AWSTransport: Sendable {
    /// Performs one request; throws `EC2Error.transport` when no answer arrived.
    func send(_ request: AWSRequest) async throws(EC2Error) -> AWSResponse
}

/// Form encoding of Query API parameters (RFC 3986 unreserved characters kept, everything else percent-encoded).
public enum QueryEncoding {
    /// Percent-encodes a key or value.
    public static func escape(_ s: String) -> String { PercentEncoding.encode(s) }

    /// `k1=v1&k2=v2` in the given order.
    public static func form(_ params: [(String, String)]) -> String {
        params.map { "\(escape($0.0))=\(escape($0.1))" }.joined(separator: "&")
    }
}
