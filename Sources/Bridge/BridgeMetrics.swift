import BuildInfo
import DiscoveryCore
import Prometheus
import Synchronization

/// The bridge's Prometheus metrics. Gauges are refreshed from the reconciler and provider health at scrape time;
/// counters mirror the reconciler's running totals; the change-to-applied latency is recorded as it happens.
public final class BridgeMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let applyLatency: DurationHistogram
    private let mirrored = Mutex<[String: Int]>([:])

    public init() {
        applyLatency = registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(
                metricName: "discovery_bridge_change_to_applied_seconds", unitName: "",
                helpText: "Time from a provider's change reaching the bridge to HAProxy acknowledging its commands."
            ),
            buckets: [.microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(20),
                      .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5)]
        )
        gauge("discovery_bridge_build_info",
              labels: [("version", BuildInfo.version), ("commit", BuildInfo.commit), ("swift", BuildInfo.swiftVersion)], 1,
              help: "Always 1; the labels say which build is running.")
    }

    /// Records one change-to-applied latency.
    public func observeApplyLatency(_ seconds: Double) {
        applyLatency.record(.nanoseconds(Int64(seconds * 1e9)))
    }

    /// Brings a counter up to `total` (counters only grow; a smaller total is ignored).
    private func mirror(_ name: String, labels: [(String, String)] = [], total: Int, help: String) {
        let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        let delta = mirrored.withLock { m -> Int in
            let d = total - (m[key] ?? 0)
            if d > 0 { m[key] = total }
            return d
        }
        let counter = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
        if delta > 0 { counter.increment(by: Int64(delta)) }
    }

    private func gauge(_ name: String, labels: [(String, String)] = [], _ value: Double, help: String) {
        registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels).set(value)
    }

    /// Updates every gauge and counter from the current state.
    public func refresh(reconciler: Reconciler, health: ProviderHealth) async {
        let tables = await reconciler.slotTables()
        let unslotted = await reconciler.unslotted()
        let holds = await reconciler.guardHolds()
        let counters = await reconciler.counters
        let discovered = await reconciler.discoveredCounts()
        let config = await reconciler.config
        let lastError = await reconciler.lastError
        let hasSynced = await reconciler.hasSynced
        let synced = lastError == nil && hasSynced

        for backend in config.backends {
            let c = tables[backend.name]?.counts ?? (total: 0, active: 0, draining: 0, free: 0)
            for (state, value) in [("total", c.total), ("used", c.active), ("draining", c.draining), ("free", c.free)] {
                gauge("discovery_bridge_slots", labels: [("backend", backend.name), ("state", state)], Double(value),
                      help: "Slots per backend: total, used (active), draining, free.")
            }
            gauge("discovery_bridge_slots_limit", labels: [("backend", backend.name)],
                  Double(backend.growth.mode == .addServer ? max(backend.growth.maxSlots, backend.slots) : backend.slots),
                  help: "Most slots the backend can have: slots, or growth.max_slots with add_server growth.")
            gauge("discovery_bridge_unslotted_instances", labels: [("backend", backend.name)], Double(unslotted[backend.name]?.count ?? 0),
                  help: "Desired instances that found no slot.")
            gauge("discovery_bridge_guard_holding", labels: [("backend", backend.name)], holds[backend.name] == nil ? 0 : 1,
                  help: "1 while the guard holds a destructive change for the backend.")
            for source in backend.sources {
                gauge("discovery_bridge_instances_discovered", labels: [("provider", source.provider), ("service", source.service), ("backend", backend.name)],
                      Double(discovered[source.key] ?? 0), help: "Instances in the provider's latest snapshot of the source.")
            }
        }
        let now = ContinuousClock.now
        for (provider, entry) in health.snapshot {
            mirror("discovery_bridge_provider_requests_total", labels: [("provider", provider)], total: entry.successes + entry.failures,
                   help: "Provider round trips to their source (successes and failures).")
            mirror("discovery_bridge_provider_errors_total", labels: [("provider", provider)], total: entry.failures,
                   help: "Provider round trips that failed.")
            let age = entry.lastSuccess.map { (now - $0).seconds } ?? -1
            gauge("discovery_bridge_provider_seconds_since_success", labels: [("provider", provider)], age,
                  help: "Seconds since the provider last answered successfully (-1: never).")
            gauge("discovery_bridge_provider_stale", labels: [("provider", provider)], health.staleProviders(now: now).contains(provider) ? 1 : 0,
                  help: "1 when the provider has not answered within its staleness limit.")
        }
        mirror("discovery_bridge_runtime_commands_total", total: counters.commandsSent, help: "Runtime API commands sent to HAProxy.")
        mirror("discovery_bridge_runtime_command_failures_total", total: counters.commandsFailed, help: "Runtime API commands HAProxy refused.")
        mirror("discovery_bridge_haproxy_errors_total", total: counters.haproxyErrors, help: "Failed attempts to reach or read HAProxy.")
        mirror("discovery_bridge_haproxy_restarts_total", total: counters.haproxyRestarts, help: "HAProxy restarts or reloads detected.")
        mirror("discovery_bridge_guard_holds_total", total: counters.guardHolds, help: "Destructive changes held by the guard.")
        mirror("discovery_bridge_guard_releases_total", total: counters.guardReleases, help: "Held changes later applied.")
        mirror("discovery_bridge_reconcile_cycles_total", total: counters.cycles, help: "Reconciliation cycles.")
        gauge("discovery_bridge_haproxy_synced", synced ? 1 : 0, help: "1 when the last reconciliation reached HAProxy.")
        let writes = reconciler.stateWriteCounters
        mirror("discovery_bridge_state_writes_total", total: writes.writes, help: "State file writes.")
        mirror("discovery_bridge_state_write_failures_total", total: writes.failures, help: "Failed state file writes.")
        gauge("discovery_bridge_state_write_failing", reconciler.stateWriteFailing ? 1 : 0, help: "1 while the state file cannot be written.")
    }

    public func render() -> [UInt8] { registry.emitToBuffer() }
}
