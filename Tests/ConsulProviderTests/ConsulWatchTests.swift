import ConsulProvider
import CurlHTTP
import DiscoveryCore
import Foundation
import Logging
import TestSupport
import XCTest

/// The provider against the Python Consul fake (127.0.0.1, started and stopped per test).
final class ConsulWatchTests: XCTestCase {
    var fake: ConsulFake!
    var runTask: Task<Void, Never>?
    var logs = CapturingLogHandler.Store()
    var tempFiles: [String] = []

    override func tearDown() async throws {
        runTask?.cancel()
        if let runTask { _ = await runTask.value }
        fake?.stop()
        for f in tempFiles { try? FileManager.default.removeItem(atPath: f) }
    }

    func startFake(_ args: [String] = []) throws {
        fake = try ConsulFake(arguments: args)
    }

    /// Builds the provider through the factory and runs it; returns the sink and the source key.
    @discardableResult
    func start(config: [String: JSONValue] = [:], service: String = "web", options: [String: JSONValue] = [:],
               address: String? = nil, sink: CollectingSink = CollectingSink()) throws -> (CollectingSink, String) {
        var cfg: [String: JSONValue] = ["address": .string(address ?? fake.address), "wait": .string("1s"), "min_request_interval": .string("10ms")]
        cfg.merge(config) { _, b in b }
        let spec = SourceSpec(provider: "consul", service: service, options: options, path: "backends[0].sources[0]")
        let store = logs
        let logger = Logger(label: "consul-test") { _ in CapturingLogHandler(store: store) }
        let provider = try ConsulProviderFactory().makeProvider(
            config: .object(cfg), path: "providers.consul", sources: [spec],
            context: ProviderContext(environment: [:], logger: logger, configDirectory: ""))
        runTask = Task { try? await provider.run(sink: sink) }
        return (sink, spec.key)
    }

    func test_registered_instance_appears_and_publish_latency_is_small() async throws {
        try startFake()
        let (sink, key) = try start(config: ["wait": .string("5m")])
        let initial = await eventually { sink.instances(key) != nil }
        XCTAssertTrue(initial, "the first (empty) answer is published")
        XCTAssertEqual(sink.ids(key), [])
        try await Task.sleep(for: .milliseconds(200))  // the loop is now blocked on the index
        let registered = ContinuousClock.now
        try await fake.register("web", id: "web-1", tags: ["v1"])
        let appeared = await eventually { sink.ids(key) == ["web-1@node1"] }
        XCTAssertTrue(appeared)
        let latency = sink.updates.last.map { $0.at - registered } ?? .seconds(99)
        print("publish latency from registration: \(latency.milliseconds) ms")
        XCTAssertLessThan(latency, .seconds(2))
        let i = sink.instances(key)?.first
        XCTAssertEqual(i?.address, "10.0.0.1")
        XCTAssertEqual(i?.port, 8080)
        XCTAssertEqual(i?.tags, ["v1"])
    }

    func test_updates_are_published_on_the_executor_the_sink_names() async throws {
        try startFake()
        let (sink, key) = try start(sink: CollectingSink(executor: MarkedExecutor()))
        await expectEventually { sink.ids(key) == [] }
        try await fake.register("web", id: "web-1")
        await expectEventually { sink.ids(key) == ["web-1@node1"] }
        let seen = sink.publishedOnExecutor
        XCTAssertGreaterThanOrEqual(seen.count, 2)
        XCTAssertTrue(seen.allSatisfy { $0 }, "every publish ran on the sink's executor (the bridge: the reconciler's thread): \(seen)")
    }

    func test_deregistered_instance_disappears() async throws {
        try startFake()
        try await fake.register("web", id: "web-1")
        try await fake.register("web", id: "web-2", node: "node2", nodeAddress: "10.0.0.2")
        let (sink, key) = try start()
        await expectEventually { sink.ids(key) == ["web-1@node1", "web-2@node2"] }
        try await fake.control("deregister", ["service": "web", "id": "web-1", "node": "node1"])
        await expectEventually { sink.ids(key) == ["web-2@node2"] }
    }

    func test_critical_node_check_is_published_as_critical() async throws {
        try startFake()
        try await fake.register("web", id: "web-1", checks: [("service:web-1", "passing")])
        let (sink, key) = try start()
        await expectEventually { sink.instances(key)?.first?.health == .passing }
        try await fake.control("check", ["node": "node1", "id": "serfHealth", "status": "critical"])
        await expectEventually { sink.instances(key)?.first?.health == .critical }
        try await fake.control("check", ["node": "node1", "id": "_service_maintenance:web-1", "status": "critical", "service_id": "web-1"])
        await expectEventually { sink.instances(key)?.first?.health == .maintenance }
    }

    func test_unchanged_answers_are_not_republished_but_count_as_success() async throws {
        try startFake()
        try await fake.register("web", id: "web-1")
        let (sink, key) = try start()
        await expectEventually { sink.instances(key) != nil }
        let before = sink.successes
        try await Task.sleep(for: .milliseconds(2600))  // at least two blocking returns with wait=1s
        XCTAssertEqual(sink.updates.count, 1)
        let successes = sink.successes
        XCTAssertGreaterThanOrEqual(successes - before, 2)
        XCTAssertEqual(sink.failures, [])
    }

    func test_index_going_backwards_resets_and_the_watch_continues() async throws {
        try startFake()
        try await fake.register("web", id: "web-1")
        let (sink, key) = try start()
        await expectEventually { sink.ids(key) == ["web-1@node1"] }
        try await fake.control("reset_index")
        try await Task.sleep(for: .milliseconds(1500))  // the blocked query returns a lower index after wait
        try await fake.register("web", id: "web-2", node: "node2", nodeAddress: "10.0.0.2")
        await expectEventually(timeout: .seconds(5)) { sink.ids(key) == ["web-1@node1", "web-2@node2"] }
        XCTAssertTrue(logs.all.contains { $0.contains("index went backwards") })
    }

    func serverErrorsReportFailure(status: Int, body: String) async throws {
        try startFake()
        try await fake.register("web", id: "web-1")
        try await fake.control("fail", ["count": .int(3), "status": .int(Int64(status)), "body": .string(body)])
        let (sink, key) = try start()
        await expectEventually { sink.failures.count >= 3 }
        // (The answer after the third failure may already be published when this looks: count at each failure.)
        XCTAssertEqual(Array(sink.updatesAtFailure.prefix(3)), [0, 0, 0], "nothing is published while failing")
        let failures = sink.failures
        XCTAssertTrue(failures.allSatisfy { $0.contains("HTTP \(status)") && $0.contains(body) }, "\(failures)")
        await expectEventually { sink.ids(key) == ["web-1@node1"] }
    }

    func test_500_answers_report_failure_publish_nothing_then_recover() async throws {
        try await serverErrorsReportFailure(status: 500, body: "No cluster leader")
    }

    func test_429_answers_report_failure_publish_nothing_then_recover() async throws {
        try await serverErrorsReportFailure(status: 429, body: "rate limit exceeded")
    }

    func test_failure_after_a_good_answer_keeps_the_last_snapshot() async throws {
        try startFake()
        try await fake.register("web", id: "web-1")
        let (sink, key) = try start()
        await expectEventually { sink.ids(key) == ["web-1@node1"] }
        try await fake.control("fail", ["count": .int(3), "status": .int(500), "body": .string("No cluster leader")])
        await expectEventually { sink.failures.count >= 3 }
        XCTAssertEqual(sink.updates.count, 1, "the failure publishes nothing: the last good snapshot stays")
    }

    func test_connection_refused_reports_failure_and_publishes_nothing() async throws {
        let (sink, _) = try start(address: "http://127.0.0.1:1")
        await expectEventually { sink.failures.count >= 2 }
        XCTAssertEqual(sink.updates.count, 0)
        XCTAssertTrue(sink.failures.first?.contains("connect") ?? false)
    }

    func test_hanging_server_times_out_reports_failure_then_recovers() async throws {
        try startFake()
        try await fake.register("web", id: "web-1")
        try await fake.control("hang", ["enabled": true])
        // wait=1s: the HTTP timeout is 1s + 1s/16 + 10s margin.
        let (sink, key) = try start()
        await expectEventually(timeout: .seconds(16)) { sink.failures.count >= 1 }
        XCTAssertEqual(sink.updates.count, 0)
        XCTAssertTrue(sink.failures.first?.contains("timeout") ?? false, "\(sink.failures)")
        try await fake.control("hang", ["enabled": false])
        await expectEventually(timeout: .seconds(15)) { sink.ids(key) == ["web-1@node1"] }
    }

    func test_acl_token_is_sent_and_never_logged() async throws {
        let secret = "b1946ac9-2f1e-4a3c-9d7e-secret-token"
        try startFake(["--acl-token", secret])
        try await fake.register("web", id: "web-1")
        // Without a token: 403, reported, nothing published.
        let (anon, _) = try start()
        await expectEventually { anon.failures.count >= 2 }
        XCTAssertTrue(anon.failures.first?.contains("403") ?? false)
        XCTAssertTrue(anon.failures.first?.contains("Permission denied") ?? false)
        XCTAssertEqual(anon.updates.count, 0)
        runTask?.cancel()
        _ = await runTask?.value
        // A wrong token: ACL not found.
        let (wrong, _) = try start(config: ["token": "not-the-token"])
        await expectEventually { wrong.failures.first?.contains("ACL not found") ?? false }
        runTask?.cancel()
        _ = await runTask?.value
        // The right token: answers.
        let (sink, key) = try start(config: ["token": .string(secret)])
        await expectEventually { sink.ids(key) == ["web-1@node1"] }
        try await fake.control("fail", ["count": .int(2), "status": .int(403), "body": .string("Permission denied: token \(secret) lacks service:read")])
        try await fake.register("web", id: "web-2", node: "node2", nodeAddress: "10.0.0.2")
        await expectEventually { sink.failures.count >= 2 }
        let all = logs.all + sink.failures + wrong.failures + anon.failures
        XCTAssertFalse(all.isEmpty)
        XCTAssertFalse(all.contains { $0.contains(secret) }, "the token leaked: \(all.filter { $0.contains(secret) })")
        let withToken = try await fake.stats().queries.contains { $0.token }
        XCTAssertTrue(withToken)
    }

    func test_token_file_is_reread_after_it_changes() async throws {
        try startFake(["--acl-token", "token-B"])
        try await fake.register("web", id: "web-1")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("consul-token-\(UUID().uuidString)").path
        tempFiles.append(file)
        try "old-token-A\n".write(toFile: file, atomically: true, encoding: .utf8)
        let (sink, key) = try start(config: ["token_file": .string(file)])
        await expectEventually { sink.failures.first?.contains("ACL not found") ?? false }
        XCTAssertEqual(sink.updates.count, 0)
        try "token-B\n".write(toFile: file, atomically: true, encoding: .utf8)
        await expectEventually(timeout: .seconds(15)) { sink.ids(key) == ["web-1@node1"] }
    }

    func test_empty_answer_without_known_leader_is_published_as_suspect() async throws {
        try startFake()
        try await fake.register("web", id: "web-1")
        try await fake.register("web", id: "web-2", node: "node2", nodeAddress: "10.0.0.2")
        let (sink, key) = try start()
        await expectEventually { sink.ids(key)?.count == 2 }
        XCTAssertNil(sink.lastUpdate?.suspectReason)
        try await fake.control("leader", ["known": false])
        try await fake.control("empty", ["enabled": true])
        await expectEventually { sink.ids(key) == [] }
        let reason = sink.lastUpdate?.suspectReason
        XCTAssertNotNil(reason)
        XCTAssertTrue(reason?.contains("no known leader") ?? false, "\(reason ?? "nil")")
        // The leader is back and the answer is still empty: republished, no longer suspect (the guard decides).
        try await fake.control("leader", ["known": true])
        await expectEventually { sink.lastUpdate?.suspectReason == nil }
        XCTAssertEqual(sink.ids(key), [])
    }

    func test_lagging_server_shrinking_the_answer_is_suspect() async throws {
        try startFake()
        for i in 1...4 { try await fake.register("web", id: "web-\(i)", node: "node\(i)", nodeAddress: "10.0.0.\(i)") }
        let (sink, key) = try start(config: ["max_last_contact": "2s"])
        await expectEventually { sink.ids(key)?.count == 4 }
        try await fake.control("leader", ["known": true, "last_contact_ms": 5000])
        try await fake.control("deregister", ["service": "web", "instances": .array((1...3).map { i in
            .object(["id": .string("web-\(i)"), "node": .string("node\(i)")])
        })])
        await expectEventually { sink.ids(key) == ["web-4@node4"] }
        XCTAssertTrue(sink.lastUpdate?.suspectReason?.contains("5000ms") ?? false)
    }

    func test_rate_limit_holds_when_the_server_answers_at_once() async throws {
        try startFake()
        try await fake.register("web", id: "web-1")
        try await fake.control("no_block", ["enabled": true])
        let (sink, _) = try start(config: ["min_request_interval": "200ms"])
        await expectEventually { sink.successes >= 1 }
        let before = try await fake.stats().paths["/v1/health/service/web"] ?? 0
        try await Task.sleep(for: .seconds(2))
        let after = try await fake.stats().paths["/v1/health/service/web"] ?? 0
        let rate = Double(after - before) / 2
        print("requests per second with min_request_interval=200ms: \(rate)")
        XCTAssertLessThanOrEqual(rate, 1 / 0.2 + 1, "at most 5/s plus burst slack")
        XCTAssertGreaterThanOrEqual(rate, 3)
    }

    func test_query_sends_tags_filter_and_stale_but_never_passing() async throws {
        try startFake()
        try await fake.register("web", id: "web-1", tags: ["v2", "blue"])
        try await fake.register("web", id: "web-2", node: "node2", nodeAddress: "10.0.0.2", tags: ["v1"])
        let (sink, key) = try start(config: ["datacenter": "dc1"], options: ["tags": .array([.string("v2")]), "filter": .string(#""blue" in Service.Tags"#)])
        await expectEventually { sink.ids(key) == ["web-1@node1"] }
        let q = try await fake.stats().queries.first { $0.path == "/v1/health/service/web" }?.query ?? ""
        XCTAssertTrue(q.contains("tag=v2"), q)
        XCTAssertTrue(q.contains("stale"), q)
        XCTAssertTrue(q.contains("dc=dc1"), q)
        XCTAssertTrue(q.contains("filter=%22blue%22%20in%20Service.Tags"), q)
        XCTAssertFalse(q.contains("passing"), q)
        let later = try await fake.stats().queries.filter { $0.path == "/v1/health/service/web" }.dropFirst()
        XCTAssertTrue(later.allSatisfy { !$0.query.contains("index=0") }, "index is never 0 after the first request")
    }

    func test_prefix_selector_merges_matching_services() async throws {
        try startFake()
        try await fake.register("web-a", id: "a1")
        try await fake.register("web-b", id: "b1", node: "node2", nodeAddress: "10.0.0.2")
        try await fake.register("db", id: "d1", node: "node3", nodeAddress: "10.0.0.3")
        let (sink, key) = try start(service: "prefix:web-")
        await expectEventually { sink.ids(key) == ["a1@node1", "b1@node2"] }
        try await fake.register("web-c", id: "c1", node: "node4", nodeAddress: "10.0.0.4")
        await expectEventually { sink.ids(key) == ["a1@node1", "b1@node2", "c1@node4"] }
        try await fake.control("deregister", ["service": "web-a", "id": "a1", "node": "node1"])
        await expectEventually { sink.ids(key) == ["b1@node2", "c1@node4"] }
    }

    func test_tag_selector_watches_services_carrying_the_tag() async throws {
        try startFake()
        try await fake.register("api", id: "api1", tags: ["haproxy"])
        try await fake.register("db", id: "d1", node: "node3", nodeAddress: "10.0.0.3")
        let (sink, key) = try start(service: "tag:haproxy")
        await expectEventually { sink.ids(key) == ["api1@node1"] }
    }
}
