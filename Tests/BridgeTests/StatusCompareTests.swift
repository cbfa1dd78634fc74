import Bridge
import DiscoveryCore
import Foundation
import StateStore
import TestSupport
import XCTest

/// `status --compare FILE|URL`: the slots whose instance differs from the other host, with diff(1)'s exit codes.
final class StatusCompareTests: XCTestCase {
    var dir: TemporaryDirectory!

    override func setUp() async throws { dir = try TemporaryDirectory(prefix: "db-compare") }
    override func tearDown() async throws { dir.remove() }

    func table(_ served: [Int: String], draining: [Int: String] = [:], slots: Int = 4) -> BackendSlots {
        BackendSlots(backend: "web", slots: (1...slots).map { n in
            if let id = served[n] {
                return Slot(server: "slot\(n)", number: n, state: .active, instanceID: id, address: "10.0.0.\(n)", port: 80)
            }
            if let id = draining[n] {
                return Slot(server: "slot\(n)", number: n, state: .draining, instanceID: id, address: "10.0.0.\(n)", port: 80, drainDeadline: 1)
            }
            return Slot(server: "slot\(n)", number: n)
        })
    }

    func writeState(_ name: String, _ table: BackendSlots) throws {
        try StateStore(path: dir.file(name)).save(StateDocument(writtenAt: 1, haproxy: nil, backends: ["web": table], guardHolds: [:]))
    }

    func compare(_ other: String) async throws -> (status: Int32, stdout: String, stderr: String) {
        try """
        {"haproxy": {"runtime_api": "unix:\(dir.file("none.sock"))"}, "state_file": "\(dir.file("here.json"))", "providers": {"file": {"path": "x.json"}},
         "backends": [{"name": "web", "slots": 4, "sources": [{"provider": "file", "service": "web"}]}]}
        """.write(toFile: dir.file("config.json"), atomically: true, encoding: .utf8)
        return try await runCommand(bridgeExecutable, ["status", "--config", dir.file("config.json"), "--compare", other])
    }

    func test_identical_tables_agree_with_exit_0() async throws {
        try writeState("here.json", table([1: "file/a", 2: "file/b"]))
        try writeState("there.json", table([1: "file/a", 2: "file/b"]))
        let r = try await compare(dir.file("there.json"))
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("slot tables agree: 2 serving slot(s)"), r.stdout)
    }

    func test_a_planted_difference_is_printed_with_exit_1() async throws {
        try writeState("here.json", table([1: "file/a", 2: "file/b", 3: "file/c"]))
        try writeState("there.json", table([1: "file/a", 2: "file/x", 4: "file/c"]))
        let r = try await compare(dir.file("there.json"))
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        let rows = r.stdout.split(separator: "\n").filter { $0.hasPrefix("web ") }.map { $0.split(separator: " ").map(String.init) }
        XCTAssertEqual(rows, [["web", "slot2", "file/b", "file/x"], ["web", "slot3", "file/c", "-"], ["web", "slot4", "-", "file/c"]], r.stdout)
        XCTAssertTrue(r.stdout.contains("3 slot(s) differ"), r.stdout)
    }

    func test_a_slot_still_draining_on_one_host_is_not_a_difference() async throws {
        try writeState("here.json", table([1: "file/a"], draining: [2: "file/b"]))
        try writeState("there.json", table([1: "file/a"]))
        let r = try await compare(dir.file("there.json"))
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
    }

    func test_an_unreadable_other_side_exits_2_naming_it() async throws {
        try writeState("here.json", table([1: "file/a"]))
        let missing = try await compare(dir.file("nope.json"))
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains(dir.file("nope.json")), missing.stderr)
        try "{not json".write(toFile: dir.file("bad.json"), atomically: true, encoding: .utf8)
        let bad = try await compare(dir.file("bad.json"))
        XCTAssertEqual(bad.status, 2, bad.stdout + bad.stderr)
        let closed = try FreePort.allocate()
        let url = try await compare("http://127.0.0.1:\(closed)/status")
        XCTAssertEqual(url.status, 2, url.stdout + url.stderr)
    }

    func test_status_documents_of_both_shapes_are_understood() throws {
        let status = Array("""
        {"backends": {"web": {"slots": [
            {"backend": "web", "slot": "slot1", "state": "active", "instance": "file/a", "address": "10.0.0.1", "port": 80, "weight": 1, "since": 1, "dynamic": false},
            {"backend": "web", "slot": "slot2", "state": "draining", "instance": "file/b", "weight": 1, "since": 1, "dynamic": false},
            {"backend": "web", "slot": "slot3", "state": "active", "address": "10.0.0.3", "port": 80, "weight": 1, "since": 1, "dynamic": false}],
          "unslotted": []}}, "providers": {}, "fresh": true}
        """.utf8)
        XCTAssertEqual(try SlotComparison.served(statusJSON: status), ["web": ["slot1": "file/a", "slot3": "10.0.0.3:80"]])
        let rows = Array("""
        {"slots": [{"backend": "web", "slot": "slot1", "state": "active", "instance": "file/a", "weight": 1, "since": 1, "dynamic": false}],
         "guard_holds": {}, "haproxy_reachable": false}
        """.utf8)
        XCTAssertEqual(try SlotComparison.served(statusJSON: rows), ["web": ["slot1": "file/a"]])
        XCTAssertThrowsError(try SlotComparison.served(statusJSON: Array(#"{"fresh": true}"#.utf8)))
        XCTAssertThrowsError(try SlotComparison.served(statusJSON: Array("{nope".utf8)))
    }
}
