import DiscoveryCore
import FoundationEssentials
import StateStore

/// What the read-only endpoints, `status` and the tests see of the reconciler.
extension Reconciler {
    /// Everything `/metrics`, `/status`, `/healthz` and systemd's STATUS= line show, read in one hop; while the actor
    /// is blocked on HAProxy (a batch or a read on the socket), the view it published just before, which is what it
    /// holds until the call returns.
    public nonisolated func view() async -> ReconcilerView {
        if let parked = parkedView.withLock({ $0 }) { return parked.view }
        return await currentView()
    }

    /// The view from the actor itself.
    func currentView() -> ReconcilerView { viewParts().view }

    /// What a view is made of, as references to the step's own storage: parking it costs a few retains, and the
    /// per-source counts are only counted by a reader.
    func viewParts() -> ViewParts {
        ViewParts(config: step.config, tables: step.tables, holds: step.holds, unslotted: step.unslotted, snapshots: step.snapshots,
                  lastSync: step.lastSync, lastError: step.lastError, hasSynced: step.firstSyncDone, isReady: step.readyDone)
    }

    public var config: BridgeConfig { step.config }

    /// The state document for the current table.
    public func document() -> StateDocument { step.document(writtenAt: wallClock()) }

    /// The slot tables, for `status` and metrics.
    public func slotTables() -> [String: BackendSlots] { step.tables }

    /// Guard holds in force, per backend.
    public func guardHolds() -> [String: GuardHold] { step.holds }

    /// Desired instances that found no slot, per backend.
    public func unslotted() -> [String: [String]] { step.unslotted }

    /// Number of instances discovered per source key.
    public func discoveredCounts() -> [String: Int] { step.discoveredCounts }

    public var lastSync: Date? { step.lastSync.map { Date(timeIntervalSince1970: $0) } }
    public var lastError: String? { step.lastError }
    public var hasSynced: Bool { step.firstSyncDone }

    /// True once ready (see `onFirstSync`): what systemd's READY=1 reports.
    public var isReady: Bool { step.readyDone }

    /// Whether the last state write failed (the bridge then serves from memory).
    public nonisolated var stateWriteFailing: Bool { persister.isFailing }
}

/// The step's state a `ReconcilerView` is built from (see `Reconciler.viewParts`).
struct ViewParts: Sendable {
    var config: BridgeConfig
    var tables: [String: BackendSlots]
    var holds: [String: GuardHold]
    var unslotted: [String: [String]]
    var snapshots: [String: [Instance]]
    var lastSync: Double?
    var lastError: String?
    var hasSynced: Bool
    var isReady: Bool

    var view: ReconcilerView {
        ReconcilerView(
            config: config, tables: tables, holds: holds, unslotted: unslotted, discovered: snapshots.mapValues(\.count),
            lastSync: lastSync.map { Date(timeIntervalSince1970: $0) }, lastError: lastError, hasSynced: hasSynced, isReady: isReady
        )
    }
}
