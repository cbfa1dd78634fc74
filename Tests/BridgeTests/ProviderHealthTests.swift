import Bridge
import DiscoveryCore
import XCTest

/// Provider health belongs to one provider set: a reload builds it anew for exactly the new providers.
final class ProviderHealthTests: XCTestCase {
    struct Quiet: DiscoveryProvider {
        var name: String
        var stalenessLimit: Duration
        func run(sink: any ProviderSink) async throws { try await Task.sleep(for: .seconds(3600)) }
    }

    func test_a_reloaded_set_judges_only_its_providers_each_by_its_own_limit_and_keeps_history_by_name() {
        let t0 = ContinuousClock.now
        let first = ProviderSet(providers: [Quiet(name: "file", stalenessLimit: .seconds(1)), Quiet(name: "consul", stalenessLimit: .seconds(31))],
                                health: ProviderHealth(providers: [Quiet(name: "file", stalenessLimit: .seconds(1)), Quiet(name: "consul", stalenessLimit: .seconds(31))], now: t0),
                                generation: 0)
        first.health.recordSuccess("consul", now: t0)
        first.health.recordSuccess("file", now: t0)
        XCTAssertEqual(first.health.staleProviders(now: t0 + .seconds(2)), ["file"])

        let next = first.next(providers: [Quiet(name: "consul", stalenessLimit: .seconds(5)), Quiet(name: "ec2", stalenessLimit: .seconds(13))], metrics: nil)
        XCTAssertEqual(next.generation, 1)
        XCTAssertEqual(Set(next.health.snapshot.keys), ["consul", "ec2"], "the removed provider is forgotten")
        XCTAssertEqual(next.health.snapshot["consul"]?.successes, 1, "a kept provider keeps its history")
        XCTAssertEqual(next.health.snapshot["consul"]?.stalenessLimit, .seconds(5), "and takes its new limit")
        XCTAssertEqual(next.health.snapshot["ec2"]?.stalenessLimit, .seconds(13), "an added provider brings its own limit")
        XCTAssertEqual(next.health.staleProviders(now: t0 + .seconds(4)), [], "the removed file provider no longer counts")
    }

    func test_answers_from_a_provider_outside_the_set_are_ignored() {
        let health = ProviderHealth(providers: [Quiet(name: "consul", stalenessLimit: .seconds(31))])
        health.recordSuccess("file")
        health.recordFailure("file", error: "late answer from a replaced set")
        XCTAssertEqual(Array(health.snapshot.keys), ["consul"])
    }

    func test_metrics_drop_the_series_of_a_removed_provider_and_backend() throws {
        let metrics = BridgeMetrics()
        let config = try ConfigLoader.parse(try JSONValue.parse("""
        { "haproxy": { "runtime_api": "unix:/x.sock" }, "state_file": "/x/state.json",
          "providers": { "file": { "path": "/x/i.json" } },
          "backends": [{ "name": "web", "slots": 2, "port": 80, "sources": [{ "provider": "file", "service": "web" }] }] }
        """), factories: ["file"])
        let view = ReconcilerView(config: config, tables: [:], holds: [:], unslotted: [:], discovered: [:], lastSync: nil, lastError: nil,
                                  hasSynced: true, isReady: true)
        metrics.refresh(view: view, health: ProviderHealth(providers: [Quiet(name: "file", stalenessLimit: .zero)]), stateWriteFailing: false)
        var text = String(decoding: metrics.render(), as: UTF8.self)
        XCTAssertTrue(text.contains(#"discovery_bridge_provider_stale{provider="file"} 1"#), text)
        XCTAssertTrue(text.contains(#"backend="web""#), text)

        var emptied = view
        emptied.config.backends = []
        metrics.refresh(view: emptied, health: ProviderHealth(providers: [Quiet(name: "consul", stalenessLimit: .seconds(60))]), stateWriteFailing: false)
        text = String(decoding: metrics.render(), as: UTF8.self)
        XCTAssertFalse(text.contains(#"provider="file""#), "a removed provider's stale gauge would alert forever:\n\(text)")
        XCTAssertFalse(text.contains(#"backend="web""#), text)
        XCTAssertTrue(text.contains(#"discovery_bridge_provider_stale{provider="consul"} 0"#), text)
    }
}
