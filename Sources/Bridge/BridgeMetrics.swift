import BuildInfo
import DiscoveryCore
import Prometheus
import Synchronization

/// The bridge's Prometheus metrics.
///
/// Counters are incremented where the thing they count happens (`count`); gauges describe state and are set from
/// the reconciler and provider health at scrape time; the change-to-applied latency is recorded as it happens.
public final class BridgeMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let applyLatency: DurationHistogram
    private let counters: [BridgeCounter: Counter]
    private let totals = Mutex<[String: Int]>([:])
    /// Gauges set by the last scrape, by series.
    private let scraped = Mutex<[String: Gauge]>([:])

    public init() {
        applyLatency = registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(
                metricName: "discovery_bridge_change_to_applied_seconds", unitName: "",
                helpText: "Time from a provider's change reaching the bridge to HAProxy acknowledging its commands."
            ),
            buckets: [.microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(20),
                      .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5)]
        )
        var made: [BridgeCounter: Counter] = [:]
        for c in BridgeCounter.allCases {
            made[c] = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: c.rawValue, unitName: "", helpText: c.help))
        }
        counters = made
        // Set once, never refreshed, so the scrape-time cleanup of gauges leaves it alone.
        registry.makeGauge(
            descriptor: MetricNameDescriptor(metricName: "discovery_bridge_build_info", unitName: "", helpText: "Always 1; the labels say which build is running."),
            labels: [("version", BuildInfo.version), ("commit", BuildInfo.commit), ("swift", BuildInfo.swiftVersion)]
        ).set(Double(1))
    }

    /// Adds `amount` to a counter.
    public func count(_ counter: BridgeCounter, by amount: Int = 1) {
        guard amount > 0 else { return }
        counters[counter]?.increment(by: Int64(amount))
        totals.withLock { $0[counter.rawValue, default: 0] += amount }
    }

    /// A counter's value so far (what `/metrics` reports), for tests and `status`.
    public func total(_ counter: BridgeCounter) -> Int { totals.withLock { $0[counter.rawValue] ?? 0 } }

    /// Counts one round trip of `provider` to its source.
    public func countProviderRequest(_ provider: String, failed: Bool) {
        registry.makeCounter(descriptor: MetricNameDescriptor(
            metricName: "discovery_bridge_provider_requests_total", unitName: "",
            helpText: "Provider round trips to their source (successes and failures)."), labels: [("provider", provider)]).increment()
        // Made on the first round trip, failed or not: a counter that appears only with its first failure is
        // invisible to rate()/increase() alerts for that failure.
        let errors = registry.makeCounter(descriptor: MetricNameDescriptor(
            metricName: "discovery_bridge_provider_errors_total", unitName: "",
            helpText: "Provider round trips that failed."), labels: [("provider", provider)])
        if failed { errors.increment() }
    }

    /// Brings a provider-reported running total up to `total` (a provider counts; the bridge exports the growth).
    private func advance(_ name: String, labels: [(String, String)], to total: Int, help: String) {
        let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        let delta = totals.withLock { t -> Int in
            let d = total - (t[key] ?? 0)
            if d > 0 { t[key] = total }
            return d
        }
        guard delta > 0 else { return }
        registry.makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
            .increment(by: Int64(delta))
    }

    /// Records one change-to-applied latency.
    public func observeApplyLatency(_ seconds: Double) {
        applyLatency.record(.nanoseconds(Int64(seconds * 1e9)))
    }

    /// Sets a gauge and remembers it for this scrape, so `refresh` can drop gauges nothing set any more.
    private func gauge(_ name: String, labels: [(String, String)] = [], _ value: Double, help: String, into seen: inout [String: Gauge]) {
        let g = registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
        g.set(value)
        seen[name + labels.map { "|\($0.0)=\($0.1)" }.joined()] = g
    }

    /// Sets every gauge from the current state (counters are counted as things happen, not here).
    public func refresh(view: ReconcilerView, health: ProviderHealth, stateWriteFailing: Bool) {
        var seen: [String: Gauge] = [:]
        for backend in view.config.backends {
            let c = view.tables[backend.name]?.counts ?? (total: 0, active: 0, draining: 0, free: 0)
            for (state, value) in [("total", c.total), ("used", c.active), ("draining", c.draining), ("free", c.free)] {
                gauge("discovery_bridge_slots", labels: [("backend", backend.name), ("state", state)], Double(value),
                      help: "Slots per backend: total, used (active), draining, free.", into: &seen)
            }
            gauge("discovery_bridge_slots_limit", labels: [("backend", backend.name)],
                  Double(backend.growth.mode == .addServer ? max(backend.growth.maxSlots, backend.slots) : backend.slots),
                  help: "Most slots the backend can have: slots, or growth.max_slots with add_server growth.", into: &seen)
            gauge("discovery_bridge_unslotted_instances", labels: [("backend", backend.name)], Double(view.unslotted[backend.name]?.count ?? 0),
                  help: "Desired instances that found no slot.", into: &seen)
            gauge("discovery_bridge_guard_holding", labels: [("backend", backend.name)], view.holds[backend.name] == nil ? 0 : 1,
                  help: "1 while the guard holds a destructive change for the backend.", into: &seen)
            for source in backend.sources {
                gauge("discovery_bridge_instances_discovered", labels: [("provider", source.provider), ("service", source.service), ("backend", backend.name)],
                      Double(view.discovered[source.key] ?? 0), help: "Instances in the provider's latest snapshot of the source.", into: &seen)
            }
        }
        let now = ContinuousClock.now
        let stale = Set(health.staleProviders(now: now))
        for (provider, entry) in health.snapshot {
            let age = entry.lastSuccess.map { (now - $0).seconds } ?? -1
            gauge("discovery_bridge_provider_seconds_since_success", labels: [("provider", provider)], age,
                  help: "Seconds since the provider last answered successfully (-1: never).", into: &seen)
            gauge("discovery_bridge_provider_stale", labels: [("provider", provider)], stale.contains(provider) ? 1 : 0,
                  help: "1 when the provider has not answered within its staleness limit.", into: &seen)
        }
        for metric in health.providerMetrics {
            let labels = metric.labels.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            switch metric.kind {
            case .gauge: gauge(metric.name, labels: labels, metric.value, help: metric.help, into: &seen)
            case .counter: advance(metric.name, labels: labels, to: Int(metric.value), help: metric.help)
            }
        }
        gauge("discovery_bridge_haproxy_synced", view.lastError == nil && view.hasSynced ? 1 : 0, help: "1 when the last reconciliation reached HAProxy.", into: &seen)
        gauge("discovery_bridge_state_write_failing", stateWriteFailing ? 1 : 0, help: "1 while the state file cannot be written.", into: &seen)
        // A backend or provider a reload removed leaves no frozen series behind (a stale=1 would alert forever).
        let gone = scraped.withLock { old -> [Gauge] in
            defer { old = seen }
            return old.filter { seen[$0.key] == nil }.map(\.value)
        }
        for g in gone { registry.unregisterGauge(g) }
    }

    /// The managed config's gauges (the writer counts its writes and failures itself); nil: no managed config.
    public func refreshManagedConfig(_ status: ManagedConfigWriter.Status?) {
        guard let status else { return }
        registry.makeGauge(descriptor: MetricNameDescriptor(metricName: "discovery_bridge_managed_config_failing", unitName: "",
                                                            helpText: "1 while the managed HAProxy config cannot be updated (the last good file stays)."))
            .set(Double(status.failing ? 1 : 0))
        registry.makeGauge(descriptor: MetricNameDescriptor(metricName: "discovery_bridge_managed_config_last_success_timestamp_seconds", unitName: "",
                                                            helpText: "Unix time the managed HAProxy config was last found or made current."))
            .set(status.lastSuccess ?? 0)
    }

    public func render() -> [UInt8] { registry.emitToBuffer() }
}
