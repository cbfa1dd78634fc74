/// A failed round trip to Consul, described without the token.
struct ConsulRequestError: Error, CustomStringConvertible {
    enum Kind {
        /// Back-pressure: HTTP 429, or a connection closed before answering (Consul's per-client connection limit
        /// closes at once, so its 429 may be lost to the reset).
        case refused
        /// Anything else: the watch retries with its own backoff.
        case failed
        /// The task was cancelled.
        case cancelled
    }

    var kind: Kind
    var description: String

    init(_ kind: Kind = .failed, _ description: String) {
        self.kind = kind
        self.description = description
    }
}

/// One good answer: its body and what its headers said.
struct ConsulAnswer: Sendable {
    var body: [UInt8]
    var index: UInt64
    /// Set when the answering server has no known leader or lags (`X-Consul-LastContact` above the limit).
    var distrust: String?
    /// 1 or 2: whether the agent speaks HTTP/2 on this connection.
    var httpVersion: Int
}
