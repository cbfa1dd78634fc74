import Bridge
import ConsulProvider
import DiscoveryCore
import FileProvider
import Foundation
import HAProxyRuntime
import TestSupport
import XCTest

/// 2,000 Consul services, one HAProxy backend each, against the fake with Consul's default per-client connection
/// limit (200): the change feed fills every backend within a 16-connection budget and carries one change at once.
final class ConsulScaleEndToEndTests: XCTestCase {
    var haproxy: HAProxyInstance?
    var harness: BridgeHarness?
    var consul: ConsulFake?

    override func tearDown() async throws {
        await harness?.cleanup()
        haproxy?.cleanup()
        consul?.stop()
    }

    static let services = 2000

    func test_2000_services_fill_2000_backends_within_the_budget_and_a_change_reaches_haproxy_at_once() async throws {
        let fake = try ConsulFake(maxSeconds: 300)
        consul = fake
        var instances: [JSONValue] = []
        for i in 0..<Self.services {
            instances.append(.object([
                "service": .string("svc-\(i)"), "id": .string("svc-\(i)-1"), "node": .string("node-\(i % 50)"),
                "node_address": .string("10.200.0.\(i % 50 + 1)"), "address": .string("10.\(i / 250).\(i % 250).1"), "port": .int(8080),
                "checks": .array([.object(["id": .string("service:svc-\(i)-1"), "status": .string("passing")])]),
            ]))
        }
        try await fake.control("register_many", ["instances": .array(instances)])
        // Generated: 2,000 backends of two slots each (room for one more instance).
        let h = try await HAProxyInstance(backends: (0..<Self.services).map { .init(name: "b\($0)", slots: 2) }, withFrontends: false)
        haproxy = h
        let backends = (0..<Self.services).map {
            #"{"name": "b\#($0)", "slots": 2, "port": 8080, "server_options": "", "drain_timeout": "100ms", "sources": [{"provider": "consul", "service": "svc-\#($0)"}]}"#
        }
        let bridge = try BridgeHarness(haproxy: h, backendsJSON: "[" + backends.joined(separator: ",\n") + "]",
                                       extra: #""guard": {"max_removed_fraction": 1.0, "min_servers": 0}"#,
                                       providersJSON: #"{ "consul": { "address": "\#(fake.address)", "wait": "5s" } }"#,
                                       factories: [FileProviderFactory(), ConsulProviderFactory()])
        harness = bridge
        let started = ContinuousClock.now
        try bridge.start()
        func readyBackends() async throws -> Set<String> {
            Set(try await bridge.poller.showServersState().filter { $0.adminState & 0x3B == 0 && $0.address != "127.0.0.1" }.map(\.backend))
        }
        try await eventually("every backend filled", timeout: .seconds(40), every: .milliseconds(100)) {
            try await readyBackends().count == Self.services
        }
        let fill = ContinuousClock.now - started
        print(String(format: "figure: 2000 Consul services -> 2000 HAProxy backends filled in %.2f s (debug build, loaded 2-core machine)", fill.seconds))

        // Changes to single services: a second instance registers (with its check), then deregisters.
        var latencies: [Double] = []
        var rng = SplitMix64(seed: 11)
        for _ in 0..<10 {
            let i = Int(rng.next() % UInt64(Self.services))
            let extra = "10.250.\(i / 250).\(i % 250):8080"
            var start = ContinuousClock.now
            try await fake.control("register", [
                "service": .string("svc-\(i)"), "id": .string("svc-\(i)-2"), "node": .string("node-\((i + 1) % 50)"),
                "node_address": .string("10.200.0.\((i + 1) % 50 + 1)"), "address": .string("10.250.\(i / 250).\(i % 250)"), "port": .int(8080),
                "checks": .array([.object(["id": .string("service:svc-\(i)-2"), "status": .string("passing")])]),
            ])
            try await eventually("svc-\(i) scaled out", timeout: .seconds(10), every: .milliseconds(1)) {
                try await bridge.ready("b\(i)").values.contains(extra)
            }
            latencies.append((ContinuousClock.now - start).seconds * 1000)
            start = ContinuousClock.now
            try await fake.control("deregister", ["service": .string("svc-\(i)"), "id": .string("svc-\(i)-2"), "node": .string("node-\((i + 1) % 50)")])
            try await eventually("svc-\(i) scaled in", timeout: .seconds(10), every: .milliseconds(1)) {
                try await !bridge.ready("b\(i)").values.contains(extra)
            }
            latencies.append((ContinuousClock.now - start).seconds * 1000)
        }
        latencies.sort()
        print(String(format: "figure: one service's change -> HAProxy with 2000 watched (20 changes, control call included): median %.1f ms, max %.1f ms",
                     latencies[latencies.count / 2], latencies.last ?? 0))
        let conns = try await fake.connections()
        print("figure: connections to the fake: peak \(conns.peak) (bridge + the test's control client), refused \(conns.refused)")
        XCTAssertLessThanOrEqual(conns.peak, 16 + 1, "the bridge stays within max_connections (16); +1 is the test's control client")
        XCTAssertEqual(conns.refused, 0)
        let ready = try await readyBackends().count
        XCTAssertEqual(ready, Self.services, "nothing was lost")
    }
}
