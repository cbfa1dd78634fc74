import Bridge
import DiscoveryCore
import HAProxyRuntime
import Logging
import StateStore

/// Drives a `ReconcileStep` on a manual clock against a model of HAProxy, answering every effect the step asks for.
struct StepDriver {
    /// HAProxy as the step sees it through its effects.
    struct ModelHAProxy {
        var pid = 100
        var servers: [String: [String: LiveServer]]
        var reachable = true
        /// Sessions per server reported by `show stat`.
        var sessions: [String: [String: Int]] = [:]
        /// Answer every command of the next batch with a refusal, or as an old worker would.
        var refuseNext = false
        var oldWorkerNext = false
        var templates: [String: Int]

        init(templates: [String: Int]) {
            self.templates = templates
            servers = [:]
            restart()
        }

        /// Back to haproxy.cfg: template servers at the placeholder, in maintenance.
        mutating func restart() {
            pid += 1
            servers = [:]
            for (backend, count) in templates {
                var b: [String: LiveServer] = [:]
                for n in 1...count { b["slot\(n)"] = LiveServer(name: "slot\(n)", address: "127.0.0.1", port: 9, admin: .maint, weight: 1) }
                servers[backend] = b
            }
        }
    }

    var step: ReconcileStep
    var haproxy: ModelHAProxy
    let metrics = BridgeMetrics()
    private(set) var instant = ContinuousClock.now
    private(set) var wall = 1_800_000_000.0
    /// Every effect in the order the step asked for it.
    private(set) var effects: [ReconcileEffect] = []
    private(set) var persisted: [StateDocument] = []
    /// Batches that put commands on the wire, with their plans.
    private(set) var batches: [SentBatch] = []
    private(set) var readyCount = 0
    private(set) var applied: [AppliedBatch] = []
    /// Runs once while the next batch is in flight (before HAProxy's answers come back).
    var duringNextBatch: ((inout StepDriver) -> Void)?
    /// How long an accepted batch takes on the manual clock, leg by leg, reported as the runtime client does (`ran`).
    var batchLegs: (toThread: Duration, onThread: Duration, back: Duration)?
    /// Ids announced to providers by `.releaseTraffic`, one list per announcement.
    private(set) var released: [[String]] = []

    init(config text: String, document: StateDocument? = nil) throws {
        let config = try ConfigLoader.parse(try JSONValue.parse(text), factories: ["file"])
        var logger = Logger(label: "step-test")
        logger.logLevel = .critical
        step = ReconcileStep(config: config, document: document, startedAt: instant, logger: logger, metrics: metrics)
        haproxy = ModelHAProxy(templates: Dictionary(uniqueKeysWithValues: config.backends.map { ($0.name, $0.slots) }))
    }

    var now: ReconcileNow { ReconcileNow(instant: instant, wall: wall) }

    mutating func advance(_ d: Duration) {
        instant += d
        wall += d.seconds
    }

    /// Sends an event and answers the effects until the step waits for time or input again.
    @discardableResult
    mutating func send(_ event: ReconcileEvent) -> [ReconcileEffect] {
        var produced: [ReconcileEffect] = []
        var queue = step.handle(event, now: now)[...]
        while let effect = queue.popFirst() {
            produced.append(effect)
            effects.append(effect)
            if let answer = answer(effect) { queue.append(contentsOf: step.handle(answer, now: now)) }
        }
        return produced
    }

    /// Runs a tick if one is due now; returns its effects (empty when nothing was due).
    @discardableResult
    mutating func tickIfDue() -> [ReconcileEffect] {
        guard let due = step.nextWake(now: now), due <= instant else { return [] }
        return send(.tick)
    }

    /// Advances to the next wake-up the step asked for (at most `limit` later) and runs it.
    @discardableResult
    mutating func runNextWake(limit: Duration = .seconds(3600)) -> [ReconcileEffect] {
        guard let due = step.nextWake(now: now) else { return [] }
        if due > instant { advance(min(due - instant, limit)) }
        return tickIfDue()
    }

    mutating func publish(_ service: String, _ instances: [Instance]) {
        send(.snapshot(ProviderUpdate(provider: "file", sources: ["file:\(service)": instances])))
    }

    private mutating func answer(_ effect: ReconcileEffect) -> ReconcileEvent? {
        switch effect {
        case .probeIdentity:
            guard haproxy.reachable else { return .identity(.failure(.haproxy("connect: refused"))) }
            return .identity(.success(HAProxyIdentity(pid: haproxy.pid, startTimeSec: haproxy.pid)))
        case .readLive:
            guard haproxy.reachable else { return .liveState(.failure(.haproxy("connect: refused"))) }
            return .liveState(.success(LiveState(info: info, backends: haproxy.servers)))
        case .readSessions(let backends):
            guard haproxy.reachable else { return .sessions(.failure(.haproxy("connect: refused"))) }
            return .sessions(.success(backends.reduce(into: [:]) { $0[$1] = haproxy.sessions[$1] ?? [:] }))
        case .apply(let batch):
            var feed = batch.feed
            guard haproxy.reachable else {
                // A live read fails at connect; without one, the first backend is planned before the connect fails.
                if !batch.readsLiveFirst { _ = feed.drain(live: nil) }
                return .batchResult(BatchResult(feed: feed, results: [], failure: .haproxy("connect: refused")))
            }
            let state = batch.readsLiveFirst ? LiveState(info: info, backends: haproxy.servers) : nil
            guard let actions = feed.drain(live: state) else { return .batchResult(BatchResult(feed: feed, results: [], failure: nil)) }
            let plans = feed.items.map(\.plan)
            guard !actions.isEmpty else { return .batchResult(BatchResult(feed: feed, results: [], failure: nil)) }
            batches.append(SentBatch(plans: plans))
            if let hook = duringNextBatch {
                duringNextBatch = nil
                hook(&self)
            }
            if haproxy.refuseNext || haproxy.oldWorkerNext {
                let old = haproxy.oldWorkerNext
                haproxy.refuseNext = false
                haproxy.oldWorkerNext = false
                return .batchResult(BatchResult(feed: feed, results: actions.map { action in
                    old ? ActionResult(action: action, answer: "Proxy is disabled.", status: .staleWorker)
                        : ActionResult(action: action, answer: "No such server.", status: .refused("No such server."))
                }, failure: nil))
            }
            // HAProxy accepted everything: it now has what the plan expects.
            for plan in plans {
                haproxy.servers[plan.backend] = TableAdoption.expectedLive(plan.slots, previous: haproxy.servers[plan.backend] ?? [:])
            }
            var result = BatchResult(feed: feed, results: actions.map { ActionResult(action: $0, answer: "", status: .applied) }, failure: nil)
            if let legs = batchLegs {
                advance(legs.toThread)
                let began = instant
                advance(legs.onThread)
                result.ran = began..<instant
                advance(legs.back)
            }
            return .batchResult(result)
        case .persist(let doc):
            persisted.append(doc)
        case .markReady:
            readyCount += 1
        case .batchApplied(let batch):
            applied.append(batch)
        case .releaseTraffic(let list):
            released.append(contentsOf: list.map(\.ids))
        case .closeConnection, .scheduleWake:
            break
        }
        return nil
    }

    /// `show info` of the model HAProxy.
    var info: HAProxyInfo { (try? RuntimeParsers.info("Pid: \(haproxy.pid)\nStart_time_sec: \(haproxy.pid)\n"))! }

    /// Slot → "instance@state" of a backend's table.
    func table(_ backend: String) -> [String: String] {
        var out: [String: String] = [:]
        for slot in step.tables[backend]?.slots ?? [] { out[slot.server] = "\(slot.instanceID ?? "-")@\(slot.state.rawValue)" }
        return out
    }

    /// Servers of `backend` HAProxy sends traffic to, as "address:port".
    func ready(_ backend: String) -> Set<String> {
        Set((haproxy.servers[backend] ?? [:]).values.filter { $0.admin == .ready }.map { "\($0.address):\($0.port)" })
    }
}

/// A batch the driver's HAProxy received (one with at least one command).
struct SentBatch {
    var plans: [BackendPlan]
    var commandCount: Int { plans.reduce(0) { $0 + $1.commands.count } }
}

extension ReconcileEffect {
    /// Whether the effect reads `show servers state` (alone, or as the first part of a batch).
    var readsLive: Bool {
        switch self {
        case .readLive: return true
        case .apply(let batch): return batch.readsLiveFirst
        default: return false
        }
    }

    /// The effect's name, for asserting on sequences.
    var name: String {
        switch self {
        case .probeIdentity: return "probeIdentity"
        case .closeConnection: return "closeConnection"
        case .readLive: return "readLive"
        case .readSessions: return "readSessions"
        case .apply(let batch): return batch.readsLiveFirst ? "readLiveAndApply" : "apply"
        case .persist: return "persist"
        case .markReady: return "markReady"
        case .batchApplied: return "batchApplied"
        case .scheduleWake: return "scheduleWake"
        case .releaseTraffic: return "releaseTraffic"
        }
    }
}

func instance(_ id: String, _ port: Int) -> Instance { Instance(id: id, address: "10.0.0.1", port: port) }
