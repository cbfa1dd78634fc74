import DiscoveryCore
import HAProxyRuntime
import StateStore

/// A cycle's planning as a `BatchFeed`: the runtime client runs it one backend at a time, so the first backend's
/// commands are on the socket while later ones are still being planned, and, with a live read first, a backend is
/// planned as soon as its rows of `show servers state` have arrived.
///
/// Pure like the planner: every input is a value the reconcile step took when the cycle started (`now` included);
/// the step learns what was planned, and what was read, from the feed handed back with the answers.
public struct PlanFeed: BatchFeed {
    /// What decides, after a live read, which backends need planning (the rules of `ReconcileStep.absorbLive`).
    public struct LiveRead: Sendable {
        /// HAProxy's identity as the step knew it; another one means a restart or reload: every backend is planned.
        public var identity: HAProxyIdentity?
        /// What HAProxy should have if nothing drifted; a backend that matches it needs no planning.
        public var expected: [String: [String: LiveServer]]?
        /// The worker a noticed reload started: an answer from another pid comes from the old one and is refused.
        public var requiredPID: Int?

        public init(identity: HAProxyIdentity?, expected: [String: [String: LiveServer]]?, requiredPID: Int?) {
            self.identity = identity
            self.expected = expected
            self.requiredPID = requiredPID
        }
    }

    /// Every configured backend, in config order.
    let backends: [BackendConfig]
    let position: [String: Int]
    let tables: [String: BackendSlots]
    let snapshots: [String: [Instance]]
    let sessions: [String: [String: Int]]
    let holds: [String: GuardHold]
    let suspect: [String: String]
    let now: Double
    /// Backends planned whatever live state says (snapshot changes, drains, holds due).
    public let toPlan: Set<String>
    public let liveRead: LiveRead?

    /// HAProxy's servers per backend: as the step knew them, or as this batch's live read found them.
    public private(set) var live: [String: [String: LiveServer]]
    /// `show info` of the live read.
    public private(set) var info: HAProxyInfo?
    /// The live read reached another worker than `requiredPID`: nothing was planned or sent.
    public private(set) var refusedWorker = false
    /// The live read reached the process the step knew (so `expected` applied).
    public private(set) var sameProcess = false
    /// Plans made, in the order their commands were sent.
    public private(set) var items: [Planning.Item] = []
    /// `expected[k]`: HAProxy's servers of `items[k]`'s backend once its commands succeed, worked out when the feed is
    /// asked for the next backend (HAProxy is running these commands then), not after the batch's last answer.
    private var expected: [[String: LiveServer]] = []
    private var decided: Set<String> = []
    private var cursor = 0
    /// Without a live read: the positions of `toPlan` in config order, the only backends `next()` visits (a change
    /// to one backend of 500 costs one backend's work, not a walk over all of them).
    private let order: [Int]?

    /// `position`: each backend's index in `backends`, when the caller keeps it (computed here otherwise).
    public init(
        backends: [BackendConfig], toPlan: Set<String>, tables: [String: BackendSlots], live: [String: [String: LiveServer]],
        snapshots: [String: [Instance]], sessions: [String: [String: Int]], holds: [String: GuardHold],
        suspect: [String: String], now: Double, liveRead: LiveRead? = nil, position: [String: Int]? = nil
    ) {
        self.backends = backends
        let position = position ?? Self.positions(backends)
        self.position = position
        order = liveRead == nil ? toPlan.compactMap { position[$0] }.sorted() : nil
        self.toPlan = toPlan
        self.tables = tables
        self.live = liveRead == nil ? live : [:]
        self.snapshots = snapshots
        self.sessions = sessions
        self.holds = holds
        self.suspect = suspect
        self.now = now
        self.liveRead = liveRead
    }

    /// Backends that should have been planned and were not (the batch stopped early).
    public var unplanned: Set<String> {
        toPlan.subtracting(items.map(\.plan.backend))
    }

    public mutating func admit(_ info: HAProxyInfo) -> Bool {
        self.info = info
        guard let read = liveRead else { return true }
        if let pid = read.requiredPID, info.pid != pid {
            refusedWorker = true
            return false
        }
        sameProcess = read.identity == HAProxyIdentity(pid: info.pid, startTimeSec: info.startTimeSec)
        return true
    }

    public mutating func live(backend: String, servers: [String: LiveServer]) -> [SlotAction] {
        settleExpected()
        live[backend, default: [:]].merge(servers) { _, new in new }
        guard let i = position[backend], decided.insert(backend).inserted else { return [] }
        return needsPlanning(backend) ? plan(i) : []
    }

    /// Each backend's index in config order.
    public static func positions(_ backends: [BackendConfig]) -> [String: Int] {
        var position: [String: Int] = [:]
        position.reserveCapacity(backends.count)
        for (i, b) in backends.enumerated() { position[b.name] = i }
        return position
    }

    public mutating func next() -> [SlotAction]? {
        settleExpected()
        if let order {
            guard cursor < order.count else { return nil }
            cursor += 1
            return plan(order[cursor - 1])
        }
        while cursor < backends.count {
            let i = cursor
            cursor += 1
            let name = backends[i].name
            // After a live read, the backends its answer lacked are decided here, with no servers.
            guard decided.insert(name).inserted, needsPlanning(name) else { continue }
            return plan(i)
        }
        return nil
    }

    /// What HAProxy has of `items[k]`'s backend once its commands succeed (`TableAdoption.expectedLive`).
    public func expectedLive(_ k: Int) -> [String: LiveServer] {
        k < expected.count ? expected[k] : expectation(of: k)
    }

    private func expectation(of k: Int) -> [String: LiveServer] {
        let plan = items[k].plan
        return TableAdoption.expectedLive(plan.slots, previous: live[plan.backend] ?? [:])
    }

    private mutating func settleExpected() {
        while expected.count < items.count { expected.append(expectation(of: expected.count)) }
    }

    /// A changed backend, or, after a live read, one whose servers differ from what the last batch left.
    private func needsPlanning(_ name: String) -> Bool {
        if toPlan.contains(name) { return true }
        guard let read = liveRead else { return false }
        guard sameProcess, tables[name] != nil, let wanted = read.expected?[name] else { return true }
        return wanted != live[name] ?? [:]
    }

    private mutating func plan(_ i: Int) -> [SlotAction] {
        let backend = backends[i]
        let item = Planning.plan(
            backend: backend, table: tables[backend.name], live: live[backend.name] ?? [:], snapshots: snapshots,
            sessions: sessions[backend.name] ?? [:], hold: holds[backend.name], suspect: suspect, now: now
        )
        items.append(item)
        return item.plan.commands
    }
}
