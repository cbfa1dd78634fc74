import ConsulProvider
import CurlHTTP
import DiscoveryCore
import Foundation
import Logging
import TestSupport
import XCTest

/// Many services against the fake with Consul's per-client connection limit: the connection budget, the change
/// feed, HTTP/2 multiplexing and back-pressure.
final class ConsulScaleTests: XCTestCase {
    var fake: ConsulFake!
    var runTask: Task<Void, Never>?
    var logs = CapturingLogHandler.Store()

    override func tearDown() async throws {
        runTask?.cancel()
        if let runTask { _ = await runTask.value }
        fake?.stop()
    }

    static func name(_ i: Int) -> String { "svc-\(i)" }
    static func key(_ i: Int) -> String { SourceSpec(provider: "consul", service: name(i)).key }

    /// Registers `count` services, one instance each with one passing check, spread over 50 nodes.
    func registerServices(_ count: Int, checks: Bool = true) async throws {
        var instances: [JSONValue] = []
        for i in 0..<count {
            var doc: [String: JSONValue] = [
                "service": .string(Self.name(i)), "id": .string("\(Self.name(i))-1"), "node": .string("node-\(i % 50)"),
                "node_address": .string("10.200.0.\(i % 50 + 1)"), "address": .string("10.\(i / 250).\(i % 250).1"), "port": .int(8080),
            ]
            if checks { doc["checks"] = .array([.object(["id": .string("service:\(Self.name(i))-1"), "status": "passing"])]) }
            instances.append(.object(doc))
        }
        try await fake.control("register_many", ["instances": .array(instances)])
    }

    @discardableResult
    func start(services count: Int, config: [String: JSONValue] = [:]) throws -> CollectingSink {
        var cfg: [String: JSONValue] = ["address": .string(fake.address), "wait": "5s", "min_request_interval": "10ms"]
        if let cert = fake.certificate { cfg["tls"] = .object(["ca_file": .string(cert)]) }
        cfg.merge(config) { _, b in b }
        let specs = (0..<count).map { SourceSpec(provider: "consul", service: Self.name($0), path: "backends[\($0)].sources[0]") }
        let store = logs
        let logger = Logger(label: "consul-scale") { _ in CapturingLogHandler(store: store) }
        let provider = try ConsulProviderFactory().makeProvider(
            config: .object(cfg), path: "providers.consul", sources: specs,
            context: ProviderContext(environment: [:], logger: logger, configDirectory: ""))
        let sink = CollectingSink()
        runTask = Task { try? await provider.run(sink: sink) }
        return sink
    }

    /// Sets service `i`'s check to `status` (its node is `node-(i % 50)`).
    func setCheck(_ i: Int, _ status: String) async throws {
        try await fake.control("check", ["node": .string("node-\(i % 50)"), "id": .string("service:\(Self.name(i))-1"),
                                         "status": .string(status), "service_id": .string("\(Self.name(i))-1")])
    }

    func apiRequests() async throws -> Int {
        try await fake.stats().paths.filter { $0.key.hasPrefix("/v1/") }.values.reduce(0, +)
    }

    func test_2000_services_on_a_default_agent_fill_within_the_budget_and_idle_cheaply() async throws {
        fake = try ConsulFake()  // Consul's default: 200 connections per client
        try await registerServices(2000)
        let started = ContinuousClock.now
        let sink = try start(services: 2000)
        await expectEventually(timeout: .seconds(30)) { sink.filledSources == 2000 }
        let fill = ContinuousClock.now - started
        print("figure: 2000 services filled in \(fill.milliseconds) ms (debug build, loaded machine)")
        XCTAssertLessThan(fill, .seconds(30))

        // One service's check changes: only it is fetched again.
        let before = try await fake.stats().paths["/v1/health/service/\(Self.name(1234))"] ?? 0
        let changed = ContinuousClock.now
        try await setCheck(1234, "critical")
        await expectEventually(timeout: .seconds(5)) { sink.instances(Self.key(1234))?.first?.health == .critical }
        print("figure: one check change published after \((ContinuousClock.now - changed).milliseconds) ms (2000 services, feed)")
        let after = try await fake.stats().paths["/v1/health/service/\(Self.name(1234))"] ?? 0
        XCTAssertLessThanOrEqual(after - before, 2, "the changed service is fetched once, not the whole fleet")

        // A registration without checks moves only the catalog: found by one sweep.
        try await fake.control("register", ["service": .string(Self.name(77)), "id": "extra", "node": "node-9", "node_address": "10.200.0.10",
                                            "address": "10.99.0.1", "port": .int(8080)])
        await expectEventually(timeout: .seconds(20)) { sink.instances(Self.key(77))?.count == 2 }

        let conns = try await fake.connections()
        // The fake counts per client IP, and the test's own control connection comes from 127.0.0.1 too.
        XCTAssertLessThanOrEqual(conns.peak, 16 + 1, "never more connections than max_connections (default 16)")
        XCTAssertEqual(conns.refused, 0, "no connection refused by the agent's per-client limit")
        try await Task.sleep(for: .seconds(2.5))  // the metrics reporter runs every 2 s
        XCTAssertLessThanOrEqual(sink.metric("discovery_bridge_consul_connections_peak") ?? 99, 16)
        XCTAssertEqual(sink.metric("discovery_bridge_consul_change_feed"), 1)

        // Idle: two blocking queries, each answering once per wait (5 s).
        try await fake.control("reset_stats")
        try await Task.sleep(for: .seconds(10.5))
        let idle = try await apiRequests()
        print("figure: idle requests in two wait periods (2000 services): \(idle)")
        XCTAssertLessThanOrEqual(idle, 6, "a few requests per wait period, not one per service")
        XCTAssertEqual(sink.shrunkSources, [], "nothing was ever removed")
    }

    func test_h2_streams_share_connections_within_ceil_services_over_streams() async throws {
        fake = try ConsulFake(tls: true)
        try await registerServices(600)
        let sink = try start(services: 600)
        await expectEventually(timeout: .seconds(40)) { sink.filledSources == 600 }
        try await Task.sleep(for: .seconds(2.5))
        let peak = sink.metric("discovery_bridge_consul_connections_peak") ?? 99
        print("figure: 600 services over h2 (250 streams per connection): peak \(Int(peak)) TCP connections")
        XCTAssertLessThanOrEqual(peak, 3, "ceil(600 / 250) connections")
        XCTAssertEqual(sink.metric("discovery_bridge_consul_change_feed"), 0, "one blocking query per service, as streams")
        XCTAssertTrue(logs.all.contains { $0.contains("http_version=2") }, "the agent negotiated h2")
        let changed = ContinuousClock.now
        try await setCheck(321, "warning")
        await expectEventually(timeout: .seconds(15)) { sink.instances(Self.key(321))?.first?.health == .warning }
        print("figure: one check change over h2 published after \((ContinuousClock.now - changed).milliseconds) ms")
    }

    func test_a_429_storm_backs_off_logs_once_removes_nothing_and_recovers() async throws {
        fake = try ConsulFake()
        try await registerServices(40)
        let sink = try start(services: 40, config: ["watch_mode": "feed", "retry_max": "200ms"])
        await expectEventually(timeout: .seconds(15)) { sink.filledSources == 40 }
        try await fake.control("reset_stats")
        try await fake.control("fail", ["count": .int(30), "status": .int(429), "body": "rate limit exceeded"])
        // The two blocking feed queries return at the next wait and meet the storm; a change brings fetches in too.
        try await setCheck(3, "critical")
        await expectEventually(timeout: .seconds(30)) { sink.instances(Self.key(3))?.first?.health == .critical }
        let episodes = logs.all.filter { $0.contains("Consul is refusing requests") }.count
        XCTAssertEqual(episodes, 1, "one line per episode, not per request")
        XCTAssertEqual(sink.shrunkSources, [], "a 429 is never an empty answer")
        XCTAssertEqual(sink.filledSources, 40)
        let recovered = ContinuousClock.now
        try await setCheck(4, "critical")
        await expectEventually(timeout: .seconds(5)) { sink.instances(Self.key(4))?.first?.health == .critical }
        print("figure: after the storm a change is published in \((ContinuousClock.now - recovered).milliseconds) ms")
        // The episode ends at the first answer Consul accepts once the pause is over: that may be after the first
        // change was published, and is at the latest the answer that carried this one.
        let captured = logs
        await expectEventually(timeout: .seconds(10)) { captured.all.contains { $0.contains("Consul accepts requests again") } }
    }

    func test_the_agents_connection_limit_is_back_pressure_and_every_service_still_fills() async throws {
        // Another client on this IP already holds most of the agent's slots: only 5 are left for the bridge.
        fake = try ConsulFake(arguments: ["--max-conns-per-client", "5"])
        try await registerServices(12)
        let started = ContinuousClock.now
        let sink = try start(services: 12, config: ["retry_max": "300ms"])
        await expectEventually(timeout: .seconds(30)) { sink.filledSources == 12 }
        print("figure: 12 services against a 5-connection agent filled in \((ContinuousClock.now - started).milliseconds) ms")
        let conns = try await fake.connections()
        print("figure: connection-limit storm: \(conns.refused) refused, peak \(conns.peak)")
        XCTAssertTrue(logs.all.contains { $0.contains("Consul is refusing requests") })
        XCTAssertLessThanOrEqual(logs.all.filter { $0.contains("Consul is refusing requests") }.count, 3)
        XCTAssertEqual(sink.shrunkSources, [])
        // Settled: the refusals stop (no retry storm against the overloaded agent).
        try await Task.sleep(for: .seconds(1))
        let settled = try await fake.connections().refused
        try await Task.sleep(for: .seconds(3))
        let later = try await fake.connections().refused
        XCTAssertLessThanOrEqual(later - settled, 5, "refused connections stop once concurrency is lowered")
        try await setCheck(5, "critical")
        await expectEventually(timeout: .seconds(5)) { sink.instances(Self.key(5))?.first?.health == .critical }
    }

    func test_feed_query_failing_and_its_index_going_backwards_remove_nothing_and_converge() async throws {
        fake = try ConsulFake()
        try await registerServices(30)
        let sink = try start(services: 30, config: ["watch_mode": "feed", "wait": "1s", "retry_max": "200ms"])
        await expectEventually(timeout: .seconds(15)) { sink.filledSources == 30 }
        try await fake.control("fail", ["count": .int(6), "status": .int(500), "body": "No cluster leader"])
        try await Task.sleep(for: .seconds(1.5))  // the feed's queries return after wait and fail
        await expectEventually(timeout: .seconds(5)) { sink.failures.contains { $0.contains("No cluster leader") } }
        try await setCheck(7, "warning")
        await expectEventually(timeout: .seconds(5)) { sink.instances(Self.key(7))?.first?.health == .warning }

        try await fake.control("reset_index")
        try await Task.sleep(for: .seconds(1.5))  // both feed queries see a lower index and start over
        XCTAssertTrue(logs.all.contains { $0.contains("index went backwards") })
        try await setCheck(8, "critical")
        await expectEventually(timeout: .seconds(5)) { sink.instances(Self.key(8))?.first?.health == .critical }
        try await fake.control("deregister", ["service": .string(Self.name(9)), "id": .string("\(Self.name(9))-1"), "node": "node-9"])
        await expectEventually(timeout: .seconds(5)) { sink.instances(Self.key(9)) == [] }
        XCTAssertEqual(sink.shrunkSources, [Self.key(9)], "only the deregistered service lost an instance")
    }
}
