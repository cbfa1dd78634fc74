import DiscoveryCore
import Synchronization

/// When each provider of one provider set last answered, so the watchdog and `/healthz` can tell fresh discovery
/// from wedged.
///
/// It knows exactly the providers it was built with, each with its own staleness limit: a reload builds a new one
/// together with the new providers (`ProviderSet`), so a removed provider is forgotten and an added one is judged
/// by its own limit. Reports for providers it does not know (late answers from a replaced set) are ignored.
public final class ProviderHealth: Sendable {
    public struct Entry: Sendable {
        public var lastSuccess: ContinuousClock.Instant?
        public var lastFailure: ContinuousClock.Instant?
        public var lastError: String?
        public var successes: Int
        public var failures: Int
        public var stalenessLimit: Duration
        /// Since when a provider that never answered counts its staleness (its set's start).
        public var since: ContinuousClock.Instant
    }

    private let entries: Mutex<[String: Entry]>
    private let metrics: BridgeMetrics?
    /// The latest figure of each metric a provider reports, by provider, name and labels.
    private let reported = Mutex<[String: ProviderMetric]>([:])

    /// `previous`: the health of the set this one replaces; a provider kept by name keeps its history (last
    /// success, counts) and takes its new staleness limit.
    public init(providers: [any DiscoveryProvider], previous: ProviderHealth? = nil, metrics: BridgeMetrics? = nil,
                now: ContinuousClock.Instant = .now) {
        let old = previous?.snapshot ?? [:]
        var e: [String: Entry] = [:]
        for p in providers {
            var entry = old[p.name] ?? Entry(successes: 0, failures: 0, stalenessLimit: p.stalenessLimit, since: now)
            entry.stalenessLimit = p.stalenessLimit
            e[p.name] = entry
        }
        entries = Mutex(e)
        self.metrics = metrics
    }

    public func recordSuccess(_ provider: String, now: ContinuousClock.Instant = .now) {
        let known = entries.withLock { e -> Bool in
            guard e[provider] != nil else { return false }
            e[provider]?.lastSuccess = now
            e[provider]?.successes += 1
            return true
        }
        if known { metrics?.countProviderRequest(provider, failed: false) }
    }

    public func recordFailure(_ provider: String, error: String, now: ContinuousClock.Instant = .now) {
        let known = entries.withLock { e -> Bool in
            guard e[provider] != nil else { return false }
            e[provider]?.lastFailure = now
            e[provider]?.lastError = error
            e[provider]?.failures += 1
            return true
        }
        if known { metrics?.countProviderRequest(provider, failed: true) }
    }

    public var snapshot: [String: Entry] { entries.withLock { $0 } }

    /// Keeps the latest value of each metric a provider reports (exported at scrape time).
    public func recordMetrics(_ provider: String, _ reported: [ProviderMetric]) {
        self.reported.withLock { m in
            for metric in reported {
                var labeled = metric
                labeled.labels["provider"] = provider
                m[labeled.name + labeled.labels.sorted { $0.key < $1.key }.map { "|\($0.key)=\($0.value)" }.joined()] = labeled
            }
        }
    }

    /// Every provider metric's latest value.
    public var providerMetrics: [ProviderMetric] { reported.withLock { Array($0.values) } }

    /// Providers whose last success is older than their staleness limit (or who never succeeded within it).
    public func staleProviders(now: ContinuousClock.Instant = .now) -> [String] {
        entries.withLock { e in
            e.filter { _, entry in now - (entry.lastSuccess ?? entry.since) > entry.stalenessLimit }.keys.sorted()
        }
    }
}
