/// One HTTP header field as sent or received.
public struct HTTPHeader: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// TLS options for an HTTPS request; the defaults verify the peer against the system trust store.
public struct TLSSettings: Sendable, Hashable {
    /// PEM bundle of trusted CAs (replaces the system store for this request).
    public var caFile: String?
    /// Directory of hashed CA certificates.
    public var caPath: String?
    /// Client certificate (PEM) for mutual TLS.
    public var certFile: String?
    /// Private key (PEM) of `certFile`.
    public var keyFile: String?
    /// Name to expect in the server's certificate (and to send as SNI) instead of the URL's host.
    ///
    /// Implemented by rewriting the URL's host to this name and pinning the connection to the original host and
    /// port with `CURLOPT_CONNECT_TO`, so verification, SNI and the `Host` header all use `serverName` while the
    /// TCP connection still goes where the URL pointed. No DNS override (`CURLOPT_RESOLVE`) is involved.
    public var serverName: String?
    /// Skips peer and host verification. For tests and emergencies only.
    public var insecureSkipVerify: Bool

    public init(
        caFile: String? = nil, caPath: String? = nil, certFile: String? = nil, keyFile: String? = nil,
        serverName: String? = nil, insecureSkipVerify: Bool = false
    ) {
        self.caFile = caFile
        self.caPath = caPath
        self.certFile = certFile
        self.keyFile = keyFile
        self.serverName = serverName
        self.insecureSkipVerify = insecureSkipVerify
    }
}

/// AWS Signature Version 4 credentials; libcurl signs the request (`CURLOPT_AWS_SIGV4`).
public struct AWSSigV4: Sendable, Hashable {
    public var region: String
    public var service: String
    public var accessKeyID: String
    public var secretAccessKey: String
    /// Temporary credentials' token, sent as `X-Amz-Security-Token` (and therefore signed).
    public var sessionToken: String?

    public init(region: String, service: String, accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.region = region
        self.service = service
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }
}

/// One HTTP request: method, URL, headers, optional body and limits.
public struct HTTPRequest: Sendable {
    public var method: String = "GET"
    /// Absolute `http://` or `https://` URL; other schemes are refused.
    public var url: String
    public var headers: [HTTPHeader] = []
    public var body: [UInt8]? = nil
    /// Limit for the whole transfer, connection included.
    public var timeout: Duration = .seconds(30)
    /// Limit for the TCP + TLS connection phase.
    public var connectTimeout: Duration = .seconds(5)
    public var tls = TLSSettings()
    public var awsSigV4: AWSSigV4? = nil
    /// Sends `Accept-Encoding` for every encoding libcurl supports and decodes the body.
    public var acceptGzip = true
    /// Larger (decoded) bodies fail with `HTTPClientError.tooLarge`.
    public var maxBodyBytes = 64 << 20

    public init(method: String = "GET", url: String, headers: [HTTPHeader] = [], body: [UInt8]? = nil, timeout: Duration = .seconds(30)) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

/// A complete HTTP response, whatever its status.
public struct HTTPResponse: Sendable {
    public var status: Int
    /// Header fields of the final response, names lowercased, in the order received.
    public var headers: [HTTPHeader]
    public var body: [UInt8]
    /// The HTTP version the answer came in: 1 (HTTP/1.x), 2 or 3.
    public var httpVersion = 1

    public init(status: Int, headers: [HTTPHeader], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The value of header `name` (case-insensitive); the last one wins when repeated.
    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.last(where: { $0.name == lower })?.value
    }

    /// The body decoded as UTF-8 (invalid sequences replaced).
    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// Throws `HTTPStatusError` unless the status is 2xx.
    public func requireSuccess(context: String = "") throws(HTTPStatusError) {
        guard (200..<300).contains(status) else {
            throw HTTPStatusError(status: status, body: body, context: context)
        }
    }
}

/// A non-2xx HTTP answer, with the start of its body for the log.
public struct HTTPStatusError: Error, Sendable, CustomStringConvertible {
    public var status: Int
    /// At most the first 512 bytes of the body, decoded as UTF-8.
    public var bodyPrefix: String
    /// What was being done (e.g. `GET /v1/health/service/web`); never contains credentials.
    public var context: String

    public init(status: Int, body: [UInt8], context: String = "") {
        self.status = status
        self.bodyPrefix = String(decoding: body.prefix(512), as: UTF8.self)
            .trimmingCharacters(inSet: [" ", "\n", "\r", "\t"])
        self.context = context
    }

    public var description: String {
        let what = context.isEmpty ? "" : "\(context): "
        return bodyPrefix.isEmpty ? "\(what)HTTP \(status)" : "\(what)HTTP \(status): \(bodyPrefix)"
    }
}

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

extension String {
    func trimmingCharacters(inSet set: Set<Character>) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}

/// How an `HTTPClient` shares and bounds its connections (libcurl's multi-handle options).
public struct HTTPClientOptions: Sendable, Hashable {
    /// Most TCP connections to one host at once (`CURLMOPT_MAX_HOST_CONNECTIONS`); 0 = unbounded. Transfers beyond
    /// it wait inside libcurl for a connection, and their timeout runs while they wait.
    public var maxHostConnections: Int
    /// Multiplex transfers as HTTP/2 streams where the server negotiates h2, waiting for a connection to
    /// multiplex on rather than opening another (`CURLPIPE_MULTIPLEX`, `CURLOPT_PIPEWAIT`).
    public var multiplex: Bool
    /// Most streams libcurl puts on one HTTP/2 connection (`CURLMOPT_MAX_CONCURRENT_STREAMS`); the server's own
    /// `SETTINGS_MAX_CONCURRENT_STREAMS` also applies.
    public var maxConcurrentStreams: Int

    public init(maxHostConnections: Int = 0, multiplex: Bool = false, maxConcurrentStreams: Int = 100) {
        self.maxHostConnections = maxHostConnections
        self.multiplex = multiplex
        self.maxConcurrentStreams = maxConcurrentStreams
    }
}

/// TCP connections of one client: open now, the most open at once since the last reset, opened in total.
public struct HTTPConnectionCounts: Sendable, Hashable {
    public var open: Int
    public var peak: Int
    public var opened: Int
}
