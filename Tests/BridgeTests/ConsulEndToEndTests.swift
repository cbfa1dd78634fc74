import Bridge
import ConsulProvider
import DiscoveryCore
import FileProvider
import Foundation
import TestSupport
import XCTest

/// Consul (the project's fake, faithful to the documented API) → the bridge → a real HAProxy.
final class ConsulEndToEndTests: XCTestCase {
    var haproxy: HAProxyInstance?
    var harness: BridgeHarness?
    var consul: ConsulFake?

    override func tearDown() async throws {
        await harness?.cleanup()
        haproxy?.cleanup()
        consul?.stop()
    }

    func start(guardJSON: String = #"{"max_removed_fraction": 1.0, "min_servers": 0}"#, health: String = "passing") async throws -> (BridgeHarness, ConsulFake) {
        let fake = try ConsulFake(arguments: ["--acl-token", "s3cr3t-token"])
        consul = fake
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 4)])
        haproxy = h
        let bridge = try BridgeHarness(haproxy: h, backendsJSON: """
        [{ "name": "web", "slots": 4, "port": 8080, "server_options": "", "drain_timeout": "200ms", "health": "\(health)",
           "sources": [{ "provider": "consul", "service": "web" }] }]
        """, extra: "\"guard\": \(guardJSON)",
        providersJSON: #"{ "consul": { "address": "\#(fake.address)", "token": "s3cr3t-token", "wait": "2s", "min_request_interval": "1ms" } }"#,
        factories: [FileProviderFactory(), ConsulProviderFactory()])
        harness = bridge
        return (bridge, fake)
    }

    func test_a_registered_instance_reaches_its_slot_within_milliseconds() async throws {
        let (bridge, consul) = try await start()
        try await consul.register("web", id: "web-a", node: "n1", nodeAddress: "10.1.0.1", port: 9001)
        try bridge.start()
        try await eventually("web-a ready") { try await bridge.ready("web") == ["slot1": "10.1.0.1:9001"] }
        var latencies: [Double] = []
        for i in 0..<20 {
            let start = ContinuousClock.now
            try await consul.register("web", id: "web-\(i)", node: "n\(i)", nodeAddress: "10.2.0.\(i + 1)", port: 9100)
            try await eventually("web-\(i) ready", every: .microseconds(500)) { try await bridge.ready("web").values.contains("10.2.0.\(i + 1):9100") }
            latencies.append((ContinuousClock.now - start).seconds * 1000)
            try await consul.control("deregister", ["service": .string("web"), "id": .string("web-\(i)"), "node": .string("n\(i)")])
            try await eventually("web-\(i) gone") { try await !bridge.ready("web").values.contains("10.2.0.\(i + 1):9100") }
        }
        latencies.sort()
        print(String(format: "figure: Consul registration -> HAProxy ready (fake control call included, debug build, %d changes): median %.2f ms, max %.2f ms",
                     latencies.count, latencies[latencies.count / 2], latencies.last ?? 0))
    }

    func test_critical_and_maintenance_instances_are_drained() async throws {
        let (bridge, consul) = try await start()
        try await consul.register("web", id: "a", node: "n1", nodeAddress: "10.1.0.1", port: 9001, checks: [("service:a", "passing")])
        try await consul.register("web", id: "b", node: "n2", nodeAddress: "10.1.0.2", port: 9001, checks: [("service:b", "passing")])
        try await consul.register("web", id: "c", node: "n3", nodeAddress: "10.1.0.3", port: 9001)
        try bridge.start()
        try await eventually("three ready") { try await bridge.ready("web").count == 3 }
        try await consul.control("check", ["node": .string("n1"), "id": .string("service:a"), "status": .string("critical"), "service_id": .string("a")])
        try await eventually("a drained") { try await !bridge.ready("web").values.contains("10.1.0.1:9001") }
        try await consul.control("check", ["node": .string("n2"), "id": .string("_node_maintenance"), "status": .string("critical")])
        try await eventually("b drained") { try await !bridge.ready("web").values.contains("10.1.0.2:9001") }
        let ready = try await bridge.ready("web")
        XCTAssertEqual(Set(ready.values), ["10.1.0.3:9001"])
        try await consul.control("check", ["node": .string("n1"), "id": .string("service:a"), "status": .string("passing"), "service_id": .string("a")])
        try await eventually("a back") { try await bridge.ready("web").values.contains("10.1.0.1:9001") }
    }

    func test_a_consul_outage_removes_nothing_and_a_fresh_empty_agent_is_held() async throws {
        let (bridge, consul) = try await start(guardJSON: #"{"max_removed_fraction": 0.5, "min_servers": 1, "confirm_after": "30s"}"#)
        for i in 1...4 { try await consul.register("web", id: "w\(i)", node: "n\(i)", nodeAddress: "10.1.0.\(i)", port: 9001) }
        try bridge.start()
        try await eventually("four ready") { try await bridge.ready("web").count == 4 }
        let before = try await bridge.ready("web")
        // 500s, then hanging connections, then a restore with a lower index, then a fresh agent answering [].
        try await consul.control("fail", ["count": .int(5), "status": .int(500), "body": .string("rpc error: No cluster leader")])
        try await consul.control("hang", ["enabled": .bool(true)])
        try await Task.sleep(for: .milliseconds(500))
        try await consul.control("hang", ["enabled": .bool(false)])
        try await consul.control("reset_index")
        try await consul.control("empty", ["enabled": .bool(true)])
        try await eventually("empty answer held") { await bridge.reconciler?.guardHolds()["web"] != nil }
        try await Task.sleep(for: .milliseconds(300))
        let during = try await bridge.ready("web")
        XCTAssertEqual(during, before, "nothing removed during the outage or by the empty answer")
        try await consul.control("empty", ["enabled": .bool(false)])
        try await eventually("hold cleared once the catalog is back", timeout: .seconds(15)) { await bridge.reconciler?.guardHolds()["web"] == nil }
        let after = try await bridge.ready("web")
        XCTAssertEqual(after, before)
    }
}
