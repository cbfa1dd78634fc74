import ConsulProvider
import DiscoveryCore
import XCTest

final class ConsulMappingTests: XCTestCase {
    func entry(
        id: String? = "web-1", node: String = "n1", nodeAddress: String = "10.0.0.1", serviceAddress: String = "",
        port: JSONValue = .int(8080), tags: [String] = [], meta: [String: String] = [:],
        weights: (Int, Int)? = nil, checks: [(String, String, String)] = [],
        serviceTagged: String = "{}", nodeTagged: String = "{}"
    ) throws -> JSONValue {
        var svc: [String: JSONValue] = [
            "Service": .string("web"), "Port": port, "Address": .string(serviceAddress),
            "Tags": .array(tags.map { .string($0) }), "Meta": .object(meta.mapValues { .string($0) }),
            "TaggedAddresses": try JSONValue.parse(serviceTagged),
        ]
        if let id { svc["ID"] = .string(id) }
        if let w = weights { svc["Weights"] = .object(["Passing": .int(Int64(w.0)), "Warning": .int(Int64(w.1))]) }
        return .object([
            "Node": .object(["Node": .string(node), "Address": .string(nodeAddress), "TaggedAddresses": try JSONValue.parse(nodeTagged)]),
            "Service": .object(svc),
            "Checks": .array(checks.map { .object(["CheckID": .string($0.0), "Status": .string($0.1), "ServiceID": .string($0.2)]) }),
        ])
    }

    /// Decodes `e` the way an answer is decoded (Codable, as one element of the answer array).
    func decoded(_ e: JSONValue) throws -> ConsulHealthEntry {
        let entries = try ConsulMapping.parseEntries(Array(JSONValue.array([e]).serialized().utf8))
        return try XCTUnwrap(entries.first)
    }

    func map(_ e: JSONValue, _ mode: ConsulAddressMode = .service) throws -> Instance {
        try ConsulMapping.instance(from: decoded(e), address: mode, service: "web").get()
    }

    func test_instance_id_is_service_id_at_node_and_fields_are_copied() throws {
        let i = try map(entry(tags: ["a", "b"], meta: ["version": "2"]))
        XCTAssertEqual(i.id, "web-1@n1")
        XCTAssertEqual(i.address, "10.0.0.1")
        XCTAssertEqual(i.port, 8080)
        XCTAssertEqual(i.weight, 1, "Consul's default weight")
        XCTAssertEqual(i.health, .passing, "no checks means passing")
        XCTAssertEqual(i.tags, ["a", "b"])
        XCTAssertEqual(i.meta, ["version": "2"])
    }

    func test_service_address_wins_over_node_address() throws {
        XCTAssertEqual(try map(entry(serviceAddress: "192.168.1.5")).address, "192.168.1.5")
        XCTAssertEqual(try map(entry(serviceAddress: "192.168.1.5"), .node).address, "10.0.0.1")
    }

    func test_critical_node_check_makes_the_instance_critical() throws {
        let i = try map(entry(checks: [("service:web-1", "passing", "web-1"), ("serfHealth", "critical", "")]))
        XCTAssertEqual(i.health, .critical)
    }

    func test_warning_check_makes_the_instance_warning_and_uses_the_warning_weight() throws {
        let i = try map(entry(weights: (10, 3), checks: [("service:web-1", "warning", "web-1"), ("serfHealth", "passing", "")]))
        XCTAssertEqual(i.health, .warning)
        XCTAssertEqual(i.weight, 3)
        XCTAssertEqual(try map(entry(weights: (10, 3))).weight, 10)
    }

    func test_maintenance_checks_beat_critical() throws {
        XCTAssertEqual(try map(entry(checks: [("_service_maintenance:web-1", "critical", "web-1"), ("x", "critical", "web-1")])).health, .maintenance)
        XCTAssertEqual(try map(entry(checks: [("_node_maintenance", "critical", "")])).health, .maintenance)
        XCTAssertEqual(try map(entry(checks: [("x", "maintenance", "web-1")])).health, .maintenance)
    }

    func test_weights_are_clamped_and_overridden_by_tag_and_meta() throws {
        XCTAssertEqual(try map(entry(weights: (1000, 1))).weight, 256)
        XCTAssertEqual(try map(entry(tags: ["weight=42"], weights: (10, 1))).weight, 42)
        XCTAssertEqual(try map(entry(tags: ["weight=42"], meta: ["haproxy_weight": "7"], weights: (10, 1))).weight, 7)
        XCTAssertEqual(try map(entry(tags: ["weight=999"], weights: (10, 1))).weight, 10, "an out-of-range override is ignored")
    }

    func test_tagged_addresses_use_service_then_node_then_default() throws {
        let svc = try map(entry(port: .int(80), serviceTagged: #"{"lan":{"address":"10.9.9.9","port":9090}}"#), .tagged("lan"))
        XCTAssertEqual(svc.address, "10.9.9.9", "keys are read case-insensitively")
        XCTAssertEqual(svc.port, 9090)
        let node = try map(entry(nodeTagged: #"{"wan":"203.0.113.7"}"#), .tagged("wan"))
        XCTAssertEqual(node.address, "203.0.113.7")
        XCTAssertEqual(node.port, 8080)
        XCTAssertEqual(try map(entry(), .tagged("wan")).address, "10.0.0.1")
    }

    func test_ipv6_addresses_are_accepted() throws {
        XCTAssertEqual(try map(entry(serviceAddress: "fd00::1")).address, "fd00::1")
    }

    func test_invalid_entries_are_skipped_with_a_warning_naming_service_and_id() throws {
        func warning(_ e: JSONValue) -> MappingWarning? {
            guard let entry = try? decoded(e) else { return nil }
            if case .failure(let w) = ConsulMapping.instance(from: entry, address: .service, service: "web") { return w }
            return nil
        }
        XCTAssertEqual(warning(try entry(id: nil))?.reason, "entry has no Service.ID")
        let host = warning(try entry(serviceAddress: "web.internal"))
        XCTAssertEqual(host?.id, "web-1@n1")
        XCTAssertTrue(host?.description.contains("web") ?? false)
        XCTAssertNotNil(warning(try entry(port: .int(70000))))
        XCTAssertNotNil(warning(try entry(port: .string("80"))))
        XCTAssertNil(try map(entry(port: .int(0))).port, "port 0 means the backend's port")
    }

    func test_body_that_is_not_a_json_array_is_an_error() {
        XCTAssertThrowsError(try ConsulMapping.parseEntries(Array("{}".utf8)))
        XCTAssertThrowsError(try ConsulMapping.parseEntries(Array("No cluster leader".utf8)))
        XCTAssertThrowsError(try ConsulMapping.parseEntries(Array("null".utf8)))
        XCTAssertEqual(try ConsulMapping.parseEntries(Array("[]".utf8)).count, 0)
        XCTAssertThrowsError(try ConsulMapping.parseEntries(Array(#"[{"Node": 5, "Service": {}}]"#.utf8)), "a Node that is not an object")
    }

    func test_field_names_are_matched_case_insensitively() throws {
        let body = #"[{"node":{"node":"n1","address":"10.0.0.9"},"service":{"id":"w1","port":81,"tags":["a"]},"checks":[{"checkid":"c","status":"warning"}]}]"#
        let entry = try XCTUnwrap(try ConsulMapping.parseEntries(Array(body.utf8)).first)
        let i = try ConsulMapping.instance(from: entry, address: .service, service: "web").get()
        XCTAssertEqual(i.id, "w1@n1")
        XCTAssertEqual(i.address, "10.0.0.9")
        XCTAssertEqual(i.port, 81)
        XCTAssertEqual(i.health, .warning)
    }

    func test_health_state_answer_decodes_checks_with_their_indexes() throws {
        let body = #"[{"Node":"n1","CheckID":"serfHealth","Status":"passing","ServiceID":"","ServiceName":"","CreateIndex":3,"ModifyIndex":9}]"#
        let checks = try ConsulMapping.parseChecks(Array(body.utf8))
        XCTAssertEqual(checks, [ConsulCheck(node: "n1", checkID: "serfHealth", status: "passing", createIndex: 3, modifyIndex: 9)])
        XCTAssertThrowsError(try ConsulMapping.parseChecks(Array("{}".utf8)))
    }
}
