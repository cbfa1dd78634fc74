import Basics

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
