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
    /// Read `show info` and `show servers state` over a new connection; answer with `.liveState`.
    case readLive
    /// Read the sessions of these backends' servers; answer with `.sessions`.
    case readSessions(backends: [String])
    /// Send these backends' commands in one batch; answer with `.batchResult`.
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

/// The plans of one cycle, per backend, in the order they are sent (each plan's `commands` are its `SlotAction`s).
public struct ApplyBatch: Sendable {
    public var plans: [BackendPlan]

    public init(plans: [BackendPlan]) { self.plans = plans }

    /// Commands in the batch.
    public var commandCount: Int { plans.reduce(0) { $0 + $1.commands.count } }
}

/// How HAProxy answered a batch.
public enum BatchResult: Sendable {
    /// Every action was answered (applied, refused, or by a stale worker), one result per action, in order.
    case answered([ActionResult])
    /// The connection failed after `completed` answers: which later actions took effect is unknown.
    case connectionFailed(BridgeError, completed: Int)
}

/// What one applied batch changed, for observers that run after every batch.
public struct AppliedBatch: Sendable {
    /// Backends whose commands HAProxy accepted, with their slot tables after the batch.
    public var tables: [String: BackendSlots]
    /// Seconds from a snapshot change arriving to its commands being acknowledged, one per backend that had one.
    public var changeToApplied: [Double]
    public var commands: Int
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
