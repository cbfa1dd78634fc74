import DiscoveryCore
import FoundationEssentials

/// A consistent picture of the reconciler for the read-only endpoints.
public struct ReconcilerView: Sendable {
    public var config: BridgeConfig
    public var tables: [String: BackendSlots]
    public var holds: [String: GuardHold]
    public var unslotted: [String: [String]]
    public var discovered: [String: Int]
    public var lastSync: Date?
    public var lastError: String?
    public var hasSynced: Bool
    public var isReady: Bool

    public init(
        config: BridgeConfig, tables: [String: BackendSlots], holds: [String: GuardHold], unslotted: [String: [String]],
        discovered: [String: Int], lastSync: Date?, lastError: String?, hasSynced: Bool, isReady: Bool
    ) {
        self.config = config
        self.tables = tables
        self.holds = holds
        self.unslotted = unslotted
        self.discovered = discovered
        self.lastSync = lastSync
        self.lastError = lastError
        self.hasSynced = hasSynced
        self.isReady = isReady
    }
}
