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
