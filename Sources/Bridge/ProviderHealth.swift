import DiscoveryCore
import Synchronization

/// When each provider last answered, so the watchdog and `/healthz` can tell fresh discovery from wedged.
public final class ProviderHealth: Sendable {
    public struct Entry: Sendable {
        public var lastSuccess: ContinuousClock.Instant?
        public var lastFailure: ContinuousClock.Instant?
        public var lastError: String?
        public var successes: Int
        public var failures: Int
        public var stalenessLimit: Duration
    }

    private let entries: Mutex<[String: Entry]>
    /// The latest figure of each provider metric, by provider, name and labels.
    private let metrics = Mutex<[String: ProviderMetric]>([:])
    private let started = ContinuousClock.now

    public init(providers: [any DiscoveryProvider]) {
        var e: [String: Entry] = [:]
        for p in providers {
            e[p.name] = Entry(lastSuccess: nil, lastFailure: nil, lastError: nil, successes: 0, failures: 0, stalenessLimit: p.stalenessLimit)
        }
        entries = Mutex(e)
    }

    public func recordSuccess(_ provider: String) {
        entries.withLock { e in
            e[provider, default: Entry(successes: 0, failures: 0, stalenessLimit: .seconds(60))].lastSuccess = .now
            e[provider]?.successes += 1
        }
    }

    public func recordFailure(_ provider: String, error: String) {
        entries.withLock { e in
            e[provider, default: Entry(successes: 0, failures: 0, stalenessLimit: .seconds(60))].lastFailure = .now
            e[provider]?.lastError = error
            e[provider]?.failures += 1
        }
    }

    public var snapshot: [String: Entry] { entries.withLock { $0 } }

    /// Keeps the latest value of each metric a provider reports (exported at scrape time).
    public func recordMetrics(_ provider: String, _ reported: [ProviderMetric]) {
        metrics.withLock { m in
            for metric in reported {
                var labeled = metric
                labeled.labels["provider"] = provider
                m[labeled.name + labeled.labels.sorted { $0.key < $1.key }.map { "|\($0.key)=\($0.value)" }.joined()] = labeled
            }
        }
    }

    /// Every provider metric's latest value.
    public var providerMetrics: [ProviderMetric] { metrics.withLock { Array($0.values) } }

    /// Providers whose last success is older than their staleness limit (or who never succeeded within it).
    public func staleProviders(now: ContinuousClock.Instant = .now) -> [String] {
        entries.withLock { e in
            e.filter { _, entry in
                let reference = entry.lastSuccess ?? started
                return now - reference > entry.stalenessLimit
            }.keys.sorted()
        }
    }
}
