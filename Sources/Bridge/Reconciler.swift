import DiscoveryCore
import FoundationEssentials
import HAProxyRuntime
import Logging
import ServiceLifecycle
import StateStore
import Synchronization

/// Keeps HAProxy's slots in step with discovery: a thin actor that feeds events to a `ReconcileStep` and carries
/// out the effects it returns (HAProxy reads and batches, state writes, readiness, wake-ups).
///
/// The actor runs on the runtime client's own thread (`HAProxyControl.runtimeThread`), not on Swift's cooperative
/// pool: a batch is planned, sent and its answers taken on the thread that decided it, so a change meets no thread
/// wake-up between reaching the reconcile step and HAProxy's answer (on a busy 2-core machine each wake-up could
/// wait milliseconds for a core). A batch blocks the actor while it is on the socket; changes arriving meanwhile
/// wait and leave together as the next batch, as they did before. While it waits on the socket, `view()` is answered
/// from the view parked just before (`whileOnSocket`), so `/metrics`, `/healthz` and `status` never wait for a
/// batch, even one HAProxy is slow to answer.
///
/// HAProxy unreachable, a command refused, a state file unwritable: each is logged, retried with backoff, and never
/// loses the table. Graceful shutdown lets the batch in flight finish, then hands the final table to the persister.
public actor Reconciler: Service {
    public typealias WallClock = @Sendable () -> Double

    let logger: Logger
    let haproxy: any HAProxyControl
    let store: StateStore
    let persister: StatePersister
    let wallClock: WallClock
    public let metrics: BridgeMetrics
    let afterBatch: @Sendable (AppliedBatch) -> Void
    private let wakeup = Wakeup()
    /// The thread the actor runs on: the runtime client's, or its own when the HAProxy control brings none (test doubles).
    private let thread: RuntimeThread
    public nonisolated var unownedExecutor: UnownedSerialExecutor { thread.executor }
    /// The actor's thread as a task executor: a task preferring it enters the actor without a thread hand-off.
    public nonisolated var taskExecutor: any TaskExecutor { thread.taskExecutor }
    /// The view while the actor is blocked on HAProxy (`whileOnSocket`); nil otherwise, so the tables it shares are
    /// not copied on the step's next change.
    let parkedView = Mutex<ViewParts?>(nil)

    /// Whether the reconciler is waiting for HAProxy right now: a batch on the socket, or a read of its state.
    public nonisolated var isWaitingForHAProxy: Bool { parkedView.withLock { $0 != nil } }
    private(set) var step: ReconcileStep
    private var loaded = false
    private var readyCallbacks: [@Sendable () -> Void] = []
    /// Gets the slot tables whenever they are persisted, to keep `haproxy.managed_config` current; nil without it.
    public nonisolated let managedConfig: ManagedConfigWriter?

    public init(
        config: BridgeConfig, haproxy: any HAProxyControl, store: StateStore, persister: StatePersister, logger: Logger,
        metrics: BridgeMetrics, wallClock: @escaping WallClock = { Date().timeIntervalSince1970 },
        afterBatch: @escaping @Sendable (AppliedBatch) -> Void = { _ in }, managedConfig: ManagedConfigWriter? = nil
    ) {
        self.managedConfig = managedConfig
        self.haproxy = haproxy
        thread = haproxy.runtimeThread ?? RuntimeThread(name: "db-reconcile")
        self.store = store
        self.persister = persister
        self.logger = logger
        self.metrics = metrics
        self.wallClock = wallClock
        self.afterBatch = afterBatch
        step = ReconcileStep(config: config, document: nil, startedAt: .now, logger: logger, metrics: metrics)
    }

    /// Registers a callback run once the bridge is ready: HAProxy reconciled with every source's first answer
    /// (or, when a source stays silent, `ReconcileStep.readyGrace` after start, with the remembered slots re-applied).
    public func onFirstSync(_ callback: @escaping @Sendable () -> Void) {
        if step.readyDone { callback() } else { readyCallbacks.append(callback) }
    }

    // MARK: Inputs

    /// Takes a provider's snapshot; backends fed by a changed source are planned at the next cycle.
    public func ingest(_ update: ProviderUpdate) async {
        await perform(step.handle(.snapshot(update), now: now()))
    }

    /// Applies a new configuration: unchanged backends keep their slots; new ones are adopted from live state.
    public func updateConfig(_ newConfig: BridgeConfig) async {
        await perform(step.handle(.configChanged(newConfig), now: now()))
        // Raised `slots` add free server lines even when no command is needed.
        handTablesToManagedConfig()
    }

    /// A reload or restart of HAProxy was noticed (by `ReloadWatcher`): re-read live state now, over a new
    /// connection, and re-apply whatever the managed file could not carry.
    public func reloadNoticed(workerPID: Int) async {
        await perform(step.handle(.reloadNoticed(workerPID: workerPID), now: now()))
    }

    /// The managed config writer gets the tables (it renders and installs them on its own queue, so this never
    /// delays a Runtime API command; unchanged tables do not rewrite the file).
    private func handTablesToManagedConfig() {
        managedConfig?.submit(config: step.config, tables: step.tables)
    }

    // MARK: Run loop

    /// Runs until graceful shutdown or cancellation; the final table goes to the persister before returning.
    public func run() async {
        loadState()
        await withGracefulShutdownHandler {
            await loop()
        } onGracefulShutdown: { [wakeup] in
            wakeup.signal()
        }
        persister.submit(step.document(writtenAt: wallClock()))
        handTablesToManagedConfig()
        haproxy.close()
    }

    private func loop() async {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let current = now()
            if let due = step.nextWake(now: current), due <= current.instant {
                await perform(step.handle(.tick, now: current))
            } else {
                await wakeup.wait(until: step.nextWake(now: current))
            }
        }
    }

    func now() -> ReconcileNow { ReconcileNow(instant: .now, wall: wallClock()) }

    func loadState() {
        guard !loaded else { return }
        loaded = true
        var document: StateDocument?
        do {
            document = try store.load()
            if let doc = document {
                logger.info("state loaded", metadata: ["state_file": "\(store.path)", "backends": "\(doc.backends.count)", "slots": "\(doc.backends.values.reduce(0) { $0 + $1.slots.count })"])
            } else {
                logger.info("no state file yet; slots will be adopted from HAProxy", metadata: ["state_file": "\(store.path)"])
            }
        } catch {
            logger.error("state file unusable; rebuilding the slot table from HAProxy's live state", metadata: ["state_file": "\(store.path)", "error": "\(error)"])
            do {
                let moved = try store.quarantine()
                logger.warning("corrupt state file moved aside", metadata: ["moved_to": "\(moved)"])
            } catch {
                logger.error("cannot move the corrupt state file aside", metadata: ["error": "\(error)"])
            }
        }
        step = ReconcileStep(config: step.config, document: document, startedAt: .now, logger: logger, metrics: metrics)
    }

    /// Carries out effects in order; an effect that reads HAProxy feeds its answer back as the next event.
    private func perform(_ effects: [ReconcileEffect]) async {
        var queue = effects[...]
        while let effect = queue.popFirst() {
            switch effect {
            case .probeIdentity:
                let answer = await whileOnSocket { await probeIdentity() }
                queue.append(contentsOf: step.handle(.identity(answer), now: now()))
            case .closeConnection:
                haproxy.close()
            case .readLive:
                let answer: Result<LiveState, BridgeError>
                answer = await whileOnSocket {
                    do throws(RuntimeError) { return .success(try await haproxy.readLiveState()) } catch { return .failure(BridgeError(error)) }
                }
                queue.append(contentsOf: step.handle(.liveState(answer), now: now()))
            case .readSessions(let backends):
                let answer: Result<[String: [String: Int]], BridgeError>
                answer = await whileOnSocket {
                    do throws(RuntimeError) { return .success(try await haproxy.readSessions(backends: backends)) } catch { return .failure(BridgeError(error)) }
                }
                queue.append(contentsOf: step.handle(.sessions(answer), now: now()))
            case .apply(let batch):
                let result = await whileOnSocket { await haproxy.apply(batch) }
                queue.append(contentsOf: step.handle(.batchResult(result), now: now()))
            case .persist(let document):
                persister.submit(document)
                handTablesToManagedConfig()
            case .markReady:
                // Written once at the first sync too, even when nothing changed (a first install has no file yet).
                handTablesToManagedConfig()
                let callbacks = readyCallbacks
                readyCallbacks = []
                for callback in callbacks { callback() }
            case .batchApplied(let applied):
                afterBatch(applied)
            case .releaseTraffic(let announcements):
                for a in announcements {
                    logger.info("instances take no traffic in any backend; telling their provider", metadata: ["provider": "\(a.provider)", "instances": "\(a.ids.prefix(10).joined(separator: ","))"])
                    a.receiver.noLongerServing(a.ids)
                }
            case .scheduleWake:
                // The run loop asks the step when to wake; the nudge makes it ask again.
                wakeup.signal()
            }
        }
    }

    /// Runs a call that may block the actor's thread on HAProxy, with the current view parked for `view()` meanwhile.
    private func whileOnSocket<T>(_ call: () async -> T) async -> T {
        parkedView.withLock { $0 = viewParts() }
        defer { parkedView.withLock { $0 = nil } }
        return await call()
    }

    private func probeIdentity() async -> Result<HAProxyIdentity?, BridgeError> {
        do {
            let info = try await haproxy.probeInfo()
            return .success(HAProxyIdentity(pid: info.pid, startTimeSec: info.startTimeSec))
        } catch {
            return .failure(BridgeError(error))
        }
    }
}
