import HAProxyRuntime

/// What the reconciler needs from HAProxy, in typed terms; `RuntimeClient` is the real one, tests may supply another.
public protocol HAProxyControl: Sendable {
    /// Sends a batch of actions; one result per action, each carrying its action.
    func apply(_ actions: [SlotAction]) async throws(RuntimeError) -> [ActionResult]
    /// Runs a streamed batch: each backend's actions are sent while the feed plans the next, every answer checked
    /// against its action (`RuntimeClient.stream`; the default reads, plans, then sends in one piece).
    func stream<Feed: BatchFeed>(_ feed: Feed, readingLiveFirst: Bool) async -> StreamedBatch<Feed>
    /// `show info` and `show servers state`, parsed, in one round trip.
    func readLiveState() async throws(RuntimeError) -> LiveState
    /// Current sessions per server of each backend, in one round trip.
    func readSessions(backends: [String]) async throws(RuntimeError) -> [String: [String: Int]]
    /// `show info` over a new connection: reaches the process that owns the socket now (after a reload).
    func probeInfo() async throws(RuntimeError) -> HAProxyInfo
    func close()
}

extension RuntimeClient: HAProxyControl {}

extension HAProxyControl {
    /// Reads live state if asked, runs the whole feed, then sends everything in one batch: no overlap, the same answers.
    public func stream<Feed: BatchFeed>(_ feed: Feed, readingLiveFirst: Bool) async -> StreamedBatch<Feed> {
        var feed = feed
        var state: LiveState?
        if readingLiveFirst {
            do { state = try await readLiveState() } catch { return StreamedBatch(feed: feed, results: [], failure: error) }
        }
        guard let actions = feed.drain(live: state) else { return StreamedBatch(feed: feed, results: [], failure: nil) }
        do {
            return StreamedBatch(feed: feed, results: try await apply(actions), failure: nil)
        } catch {
            return StreamedBatch(feed: feed, results: [], failure: error)
        }
    }
}
