import HAProxyRuntime

/// What the reconciler needs from HAProxy, in typed terms; `RuntimeClient` is the real one, tests may supply another.
///
/// The calls are `nonisolated(nonsending)`: they start on the caller's executor, which for the reconciler is the
/// runtime client's own thread (`runtimeThread`), so a batch goes from the reconcile step to the socket and its
/// answers back with no thread hand-off.
public protocol HAProxyControl: Sendable {
    /// The thread the reconciler should run on: the one the calls do their socket work on (nil: its own thread).
    var runtimeThread: RuntimeThread? { get }
    /// Sends a batch of actions; one result per action, each carrying its action.
    nonisolated(nonsending) func apply(_ actions: [SlotAction]) async throws(RuntimeError) -> [ActionResult]
    /// Runs a streamed batch: each backend's actions are sent while the feed plans the next, every answer checked
    /// against its action (`RuntimeClient.stream`; the default reads, plans, then sends in one piece).
    nonisolated(nonsending) func stream<Feed: BatchFeed>(_ feed: Feed, readingLiveFirst: Bool) async -> StreamedBatch<Feed>
    /// `show info` and `show servers state`, parsed, in one round trip.
    nonisolated(nonsending) func readLiveState() async throws(RuntimeError) -> LiveState
    /// Current sessions per server of each backend, in one round trip.
    nonisolated(nonsending) func readSessions(backends: [String]) async throws(RuntimeError) -> [String: [String: Int]]
    /// `show info` over a new connection: reaches the process that owns the socket now (after a reload).
    nonisolated(nonsending) func probeInfo() async throws(RuntimeError) -> HAProxyInfo
    func close()
}

extension RuntimeClient: HAProxyControl {
    public var runtimeThread: RuntimeThread? { laneThread }
}

extension HAProxyControl {
    /// No thread of its own: the reconciler starts one.
    public var runtimeThread: RuntimeThread? { nil }

    /// Reads live state if asked, runs the whole feed, then sends everything in one batch: no overlap, the same answers.
    nonisolated(nonsending) public func stream<Feed: BatchFeed>(_ feed: Feed, readingLiveFirst: Bool) async -> StreamedBatch<Feed> {
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
