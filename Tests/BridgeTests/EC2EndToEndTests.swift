import Bridge
import DiscoveryCore
import EC2Provider
import FileProvider
import Foundation
import TestSupport
import XCTest

/// AWS EC2 (moto_server on loopback) → the bridge → a real HAProxy serving real traffic.
final class EC2EndToEndTests: XCTestCase {
    func test_tagged_instances_serve_traffic_and_a_stopped_one_is_drained() async throws {
        let moto = try Moto()
        defer { moto.stop() }
        let http = try await HTTPBackends(count: 3)
        defer { http.stop() }
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 4)])
        defer { h.cleanup() }
        var ids: [String] = []
        for (i, port) in http.ports.enumerated() {
            // Every instance on 127.0.0.1, told apart by its port tag, so HAProxy can reach the test's backends.
            ids += try moto.run(region: "us-east-1", tags: ["HAProxy:Service:Name": "web", "HAProxy:Service:Port": "\(port)",
                                                         "HAProxy:Server:Weight": "\(10 * (i + 1))"], privateIP: "127.0.0.1")
        }
        _ = try moto.run(region: "us-east-1", tags: ["HAProxy:Service:Name": "api", "HAProxy:Service:Port": "1"], privateIP: "127.0.0.1")
        let bridge = try BridgeHarness(haproxy: h, backendsJSON: """
        [{ "name": "web", "slots": 4, "port": 8080, "server_options": "", "drain_timeout": "300ms",
           "sources": [{ "provider": "ec2", "service": "web" }] }]
        """, extra: #""guard": {"max_removed_fraction": 0.5, "min_servers": 1}"#,
        providersJSON: """
        { "ec2": { "regions": ["us-east-1"], "endpoint": "\(moto.endpoint)", "refresh_interval": "1s",
                   "credentials": { "access_key_id": "AKIAE2ETESTKEY", "secret_access_key": "e2e-secret-key" } } }
        """, factories: [FileProviderFactory(), EC2ProviderFactory()])
        defer { Task { await bridge.cleanup() } }
        let started = ContinuousClock.now
        try bridge.start()
        let expected = Set(http.ports.map { "127.0.0.1:\($0)" })
        try await eventually("three EC2 instances in HAProxy", timeout: .seconds(20)) { Set(try await bridge.ready("web").values) == expected }
        print("figure: EC2 discovery (moto) to three ready slots: \(ContinuousClock.now - started)")
        let weights = try await bridge.servers("web").values.filter { $0.adminState & 0x3B == 0 }.map(\.userWeight).sorted()
        XCTAssertEqual(weights, [10, 20, 30], "weights come from the HAProxy:Server:Weight tag")
        let port = try XCTUnwrap(h.frontendPorts["web"])
        let serving = try await backendsServing(port: port)
        XCTAssertEqual(serving, ["backend-1", "backend-2", "backend-3"])

        _ = try moto.seed([["op": "stop", "region": "us-east-1", "ids": [ids[1]]]])
        try await eventually("stopped instance leaves service", timeout: .seconds(20)) {
            !(try await bridge.ready("web").values.contains("127.0.0.1:\(http.ports[1])"))
        }
        let after = try await backendsServing(port: port)
        XCTAssertEqual(after, ["backend-1", "backend-3"])
        await bridge.stop()
    }
}
