import DiscoveryCore
import HAProxyRuntime
import StateStore

/// An input to the reconcile step: something arrived (a snapshot, a config, an answer from HAProxy) or time passed.
public enum ReconcileEvent: Sendable {
    /// A provider's snapshot for some sources.
    case snapshot(ProviderUpdate)
    /// A reloaded configuration (SIGHUP).
    case configChanged(BridgeConfig)
    /// A wake-up the step asked for is due: start a cycle.
    case tick
    /// The answer to `.probeIdentity`: HAProxy's pid and start time (nil when the answer was unreadable).
    case identity(Result<HAProxyIdentity?, BridgeError>)
    /// The answer to `.readLive`.
    case liveState(Result<LiveState, BridgeError>)
    /// The answer to `.readSessions`: current sessions per server, per backend.
    case sessions(Result<[String: [String: Int]], BridgeError>)
    /// The answer to `.apply`.
    case batchResult(BatchResult)
    /// `ReloadWatcher` saw a new HAProxy worker answer: read live state now and repair what differs.
    case reloadNoticed(workerPID: Int)
}

/// What the reconcile step asks its actor to do. At most one effect that needs an answer (`probeIdentity`,
/// `readLive`, `readSessions`, `apply`) is pending at a time; its answer comes back as the matching event.
public enum ReconcileEffect: Sendable {
    /// Ask HAProxy's pid over a new connection (`show info`); answer with `.identity`.
    case probeIdentity
    /// Drop the persistent runtime connection (it may reach a worker an HAProxy reload replaced).
    case closeConnection
    /// Read `show info` and `show servers state` over a new connection; answer with `.liveState`. (Used when the
    /// sessions of draining servers must be read between the two; otherwise the live read is part of `.apply`.)
    case readLive
    /// Read the sessions of these backends' servers; answer with `.sessions`.
    case readSessions(backends: [String])
    /// Plan and send these backends' commands in one streamed batch (reading live state first if asked); answer
    /// with `.batchResult`.
    case apply(ApplyBatch)
    /// Write this state document (newest wins).
    case persist(StateDocument)
    /// The bridge is ready (systemd's READY=1).
    case markReady
    /// A batch reached HAProxy: tell post-batch observers (managed config, benchmarks).
    case batchApplied(AppliedBatch)
    /// Run a `.tick` at this instant, or when an input arrives if nil.
    case scheduleWake(at: ContinuousClock.Instant?)
    /// Tell providers that these watched instances take no traffic in any backend (after a cycle HAProxy took).
    case releaseTraffic([TrafficReleaseTracker.Announcement])
}

/// One cycle's batch as the step hands it over: the planning still to do, which the runtime client runs one
/// backend at a time while earlier backends' commands are on the socket (`PlanFeed`).
public struct ApplyBatch: Sendable {
    public var feed: PlanFeed
    /// Read `show info` and `show servers state` first, over a new connection, planning each backend as it arrives.
    public var readsLiveFirst: Bool

    public init(feed: PlanFeed, readsLiveFirst: Bool) {
        self.feed = feed
        self.readsLiveFirst = readsLiveFirst
    }
}

/// How HAProxy answered a batch.
public struct BatchResult: Sendable {
    /// The feed as the batch left it: the plans made, in send order, and what a live read found.
    public var feed: PlanFeed
    /// One result per action sent, in order (after a failure, those answered before it).
    public var results: [ActionResult]
    /// The connection failed, or the live read was unreadable: which later actions took effect is unknown.
    public var failure: BridgeError?
    /// When the runtime client's thread began and ended the batch, when it says (`BatchTimeline`).
    public var ran: Range<ContinuousClock.Instant>?

    public init(feed: PlanFeed, results: [ActionResult], failure: BridgeError?) {
        self.feed = feed
        self.results = results
        self.failure = failure
    }

    /// Actions the plans asked for.
    public var commandCount: Int { feed.items.reduce(0) { $0 + $1.plan.commands.count } }
}

/// What one applied batch changed, for observers that run after every batch.
public struct AppliedBatch: Sendable {
    /// Backends whose commands HAProxy accepted, with their slot tables after the batch.
    public var tables: [String: BackendSlots]
    /// Seconds from a snapshot change arriving to its commands being acknowledged, one per backend that had one.
    public var changeToApplied: [Double]
    public var commands: Int
    /// Where the time of the batch's oldest change went (nil when it carried no change from a provider).
    public var timeline: BatchTimeline?
}

/// One batch's way from its oldest change to the answers taken, in seconds per leg: for benches and for finding
/// where a slow change waited (the reconcile loop, the hand-over to the runtime client's thread, the batch itself,
/// or the way back).
public struct BatchTimeline: Sendable {
    /// The change arriving in the reconcile step → the batch handed to the runtime client.
    public var toBatch: Double
    /// → the runtime client's thread beginning it.
    public var toThread: Double
    /// The batch on that thread: planning, sending, every answer read.
    public var onThread: Double
    /// Its end → the reconcile step taking the answers.
    public var back: Double
}

/// The two clocks a step reads: monotonic for timers, wall for what is persisted (slot `since`, drain deadlines).
public struct ReconcileNow: Sendable {
    public var instant: ContinuousClock.Instant
    public var wall: Double

    public init(instant: ContinuousClock.Instant, wall: Double) {
        self.instant = instant
        self.wall = wall
    }
}
