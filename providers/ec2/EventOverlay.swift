/// What AWS events have said about instances, laid over DescribeInstances until EC2 itself agrees. Pure: `now` is
/// an argument (wall-clock seconds).
///
/// A drain mark makes the provider publish the instance in `maintenance`, so every backend drains it whatever its
/// health policy. A mark ends when DescribeInstances stops returning the instance (stopped, terminated, untagged),
/// when a newer `pending`/`running` event arrives (the instance was started again), or, for state-change marks only,
/// when a refresh begun `settle` seconds after the event still reports the instance `running` (the event was
/// contradicted; spot, rebalance and lifecycle events are expected to precede EC2's own state change).
public struct EventOverlay: Sendable {
    public enum Drain: Sendable, Equatable {
        case stateChange(String)
        case spotInterruption
        case rebalance
        case terminating
    }

    public struct Mark: Sendable, Equatable {
        public var drain: Drain
        public var eventTime: Double
        public var appliedAt: Double
    }

    /// How an event was taken.
    public enum Verdict: Sendable, Equatable {
        /// A drain mark was set (or already set): publish.
        case drain
        /// `pending`/`running`: describe this instance alone; any older drain mark was lifted.
        case describe
        /// Rebalance recommendation with `drain_on_rebalance` off.
        case notDraining
        case duplicate
        /// Older (by the event's `time`) than what was already applied to this instance.
        case outOfOrder
        /// A drain event for an instance DescribeInstances does not return with the service tags.
        case unknownInstance
    }

    public private(set) var marks: [String: Mark] = [:]
    private var applied: [String: (time: Double, rank: Int, at: Double)] = [:]
    private var seen: Set<String> = []
    private var seenOrder: [String] = []
    public var drainOnRebalance: Bool
    /// Seconds after a state-change event before a refresh that still says `running` overrides it.
    public var settle: Double = 120

    public init(drainOnRebalance: Bool) {
        self.drainOnRebalance = drainOnRebalance
    }

    /// Applies `event`; `known` tells whether the instance is one DescribeInstances returned for a watched service.
    public mutating func apply(_ event: EC2Event, known: Bool, now: Double) -> Verdict {
        guard !seen.contains(event.id) else { return .duplicate }
        remember(event.id)
        let rank = Self.rank(event.kind)
        if let last = applied[event.instanceID], event.time < last.time || (event.time == last.time && rank < last.rank) {
            return .outOfOrder
        }
        let drain: Drain
        switch event.kind {
        case .stateChange(let s) where s == "pending" || s == "running":
            applied[event.instanceID] = (event.time, rank, now)
            marks[event.instanceID] = nil
            return .describe
        case .stateChange(let s): drain = .stateChange(s)
        case .spotInterruption: drain = .spotInterruption
        case .rebalance:
            guard drainOnRebalance else { return .notDraining }
            drain = .rebalance
        case .terminating: drain = .terminating
        }
        guard known else { return .unknownInstance }
        applied[event.instanceID] = (event.time, rank, now)
        if marks[event.instanceID] == nil || marks[event.instanceID]?.drain == .rebalance {
            marks[event.instanceID] = Mark(drain: drain, eventTime: event.time, appliedAt: now)
        }
        return .drain
    }

    /// Forgets that `eventID` was seen, so its redelivery is processed again (after a failure worth retrying).
    public mutating func forget(_ eventID: String) {
        seen.remove(eventID)
    }

    /// Takes a completed refresh: `present` maps every instance id it returned to its state; `startedAt` is when it began.
    /// Returns the ids whose state-change mark EC2 contradicted.
    public mutating func refreshed(present: [String: String], startedAt: Double) -> [String] {
        var contradicted: [String] = []
        for (id, mark) in marks {
            guard let state = present[id] else {
                marks[id] = nil
                continue
            }
            if case .stateChange = mark.drain, state == "running", startedAt >= mark.appliedAt + settle {
                marks[id] = nil
                contradicted.append(id)
            }
        }
        // Ordering memory of instances that are gone is kept for ten minutes, long enough for late deliveries.
        applied = applied.filter { present[$0.key] != nil || startedAt - $0.value.at < 600 }
        return contradicted.sorted()
    }

    /// Event order within one second (EventBridge times have second resolution): later lifecycle stages win.
    static func rank(_ kind: EC2Event.Kind) -> Int {
        switch kind {
        case .stateChange("pending"): return 0
        case .stateChange("running"): return 1
        case .rebalance: return 2
        case .spotInterruption, .terminating: return 3
        case .stateChange("stopping"), .stateChange("shutting-down"): return 4
        case .stateChange("stopped"): return 5
        case .stateChange: return 6
        }
    }

    private mutating func remember(_ id: String) {
        seen.insert(id)
        seenOrder.append(id)
        if seenOrder.count > 8192 {
            for old in seenOrder.prefix(4096) { seen.remove(old) }
            seenOrder.removeFirst(4096)
        }
    }
}
