/// The bridge's running totals, each exported as a Prometheus counter and counted where it happens.
public enum BridgeCounter: String, CaseIterable, Sendable {
    case reconcileCycles = "discovery_bridge_reconcile_cycles_total"
    case runtimeCommands = "discovery_bridge_runtime_commands_total"
    case runtimeCommandFailures = "discovery_bridge_runtime_command_failures_total"
    case runtimeCommandsResent = "discovery_bridge_runtime_commands_resent_total"
    case haproxyErrors = "discovery_bridge_haproxy_errors_total"
    case haproxyRestarts = "discovery_bridge_haproxy_restarts_total"
    case slotChanges = "discovery_bridge_slot_changes_total"
    case guardHolds = "discovery_bridge_guard_holds_total"
    case guardReleases = "discovery_bridge_guard_releases_total"
    case stateWrites = "discovery_bridge_state_writes_total"
    case stateWriteFailures = "discovery_bridge_state_write_failures_total"
    case notificationsDropped = "discovery_bridge_systemd_notifications_dropped_total"
    case managedConfigWrites = "discovery_bridge_managed_config_writes_total"
    case managedConfigFailures = "discovery_bridge_managed_config_failures_total"

    /// The counter's HELP text.
    public var help: String {
        switch self {
        case .reconcileCycles: return "Reconciliation cycles."
        case .runtimeCommands: return "Runtime API commands sent to HAProxy."
        case .runtimeCommandFailures: return "Runtime API commands HAProxy refused."
        case .runtimeCommandsResent: return "Runtime API commands an old worker answered after an HAProxy reload (\"Proxy is disabled.\"), sent again to the new one."
        case .haproxyErrors: return "Failed attempts to reach or read HAProxy."
        case .haproxyRestarts: return "HAProxy restarts or reloads detected."
        case .slotChanges: return "Slot changes applied (assign, drain, free, weight, ...)."
        case .guardHolds: return "Destructive changes held by the guard."
        case .guardReleases: return "Held changes later applied."
        case .stateWrites: return "State file writes."
        case .stateWriteFailures: return "Failed state file writes."
        case .notificationsDropped: return "sd_notify datagrams dropped because systemd's socket was full or gone."
        case .managedConfigWrites: return "Managed HAProxy config files installed."
        case .managedConfigFailures: return "Managed HAProxy config writes that failed (unwritable, disk full, structural check or check_command)."
        }
    }
}
