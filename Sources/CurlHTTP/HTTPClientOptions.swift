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
