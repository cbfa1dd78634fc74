/// Produces a streamed batch one backend at a time, called by `RuntimeClient.stream` between socket reads and
/// writes, so a backend's commands are on the socket while the next backend is being planned.
///
/// The client calls it on its own thread, never concurrently. With a live read first, `admit` comes once `show info`
/// has answered, then `live(backend:servers:)` once per backend as its rows of `show servers state` arrive (in
/// HAProxy's order), then `next()` until it returns nil; without one, only `next()`.
public protocol BatchFeed: Sendable {
    /// HAProxy's `show info`, before any of its servers: false ends the batch before a command is sent.
    mutating func admit(_ info: HAProxyInfo) -> Bool
    /// One backend's servers, complete, from `show servers state`: the actions to send for it now (none is fine).
    mutating func live(backend: String, servers: [String: LiveServer]) -> [SlotAction]
    /// The next backend's actions once live state is known; nil when the batch is complete.
    mutating func next() -> [SlotAction]?
}

/// What became of a streamed batch.
public struct StreamedBatch<Feed: BatchFeed>: Sendable {
    /// The feed as the batch left it (it knows what it planned and, after a live read, what it read).
    public var feed: Feed
    /// One result per action, in the order the feed produced them; after a failure, those known to have taken effect.
    public var results: [ActionResult]
    /// Why the batch stopped early: the connection failed, or the live read was unreadable. Actions after
    /// `results` may or may not have taken effect.
    public var failure: RuntimeError?
    /// When the runtime client's thread began and ended the batch (nil from clients that do not stream).
    public var ran: Range<ContinuousClock.Instant>?

    public init(feed: Feed, results: [ActionResult], failure: RuntimeError?, ran: Range<ContinuousClock.Instant>? = nil) {
        self.feed = feed
        self.results = results
        self.failure = failure
        self.ran = ran
    }
}

extension BatchFeed {
    /// Runs the feed with no socket, for callers (and test doubles) that read and send in one piece: `state` is
    /// handed over as a streamed live read would be (backends by name), nil for none. Returns every action in
    /// order, or nil when the feed refused the live read.
    public mutating func drain(live state: LiveState?) -> [SlotAction]? {
        var actions: [SlotAction] = []
        if let state {
            guard admit(state.info) else { return nil }
            for (backend, servers) in state.backends.sorted(by: { $0.key < $1.key }) {
                actions += live(backend: backend, servers: servers)
            }
        }
        while let group = next() { actions += group }
        return actions
    }
}
