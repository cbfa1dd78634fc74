import DiscoveryCore
import Foundation
import StateStore
import TestSupport
import XCTest

final class StateStoreTests: XCTestCase {
    var dir: TemporaryDirectory!

    override func setUp() async throws { dir = try TemporaryDirectory() }
    override func tearDown() async throws { dir.remove() }

    func sampleDocument() -> StateDocument {
        let slots = [
            Slot(server: "slot1", number: 1, state: .active, instanceID: "file/web-1", address: "10.0.0.1", port: 8080, weight: 10, since: 1000),
            Slot(server: "slot2", number: 2, state: .draining, instanceID: "file/web-2", address: "::1", port: 8081, weight: 1, since: 1001, drainDeadline: 1031),
            Slot(server: "slot3", number: 3, since: 900),
            Slot(server: "slot11", number: 11, dynamic: true, since: 900),
        ]
        return StateDocument(writtenAt: 1234.5, haproxy: HAProxyIdentity(pid: 42, startTimeSec: 1_795_943_678),
                             backends: ["web": BackendSlots(backend: "web", slots: slots)])
    }

    func test_a_saved_document_loads_back_identical() throws {
        let store = StateStore(path: dir.file("state/nested/state.json"))
        XCTAssertNil(try store.load(), "no file yet means no state, not an error")
        try store.save(sampleDocument())
        XCTAssertEqual(try store.load(), sampleDocument())
    }

    func test_the_state_file_is_private_and_no_temp_files_remain() throws {
        let store = StateStore(path: dir.file("state.json"))
        try store.save(sampleDocument())
        try store.save(sampleDocument())
        let attributes = try FileManager.default.attributesOfItem(atPath: store.path)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["state.json"])
    }

    func test_damaged_files_are_rejected_with_the_place_named() throws {
        let store = StateStore(path: dir.file("state.json"))
        let cases: [(String, String)] = [
            ("{", "not a valid state file"),
            ("[]", "(top level)"),
            (#"{"version": 1, "written_at": 1, "backends": {"web": {"backend": "web", "slots": [{"server": "slot1"}]}}}"#, "backends.web.slots[0]"),
            (#"{"version": 7, "written_at": 1, "backends": {}}"#, "version: expected 1, got 7"),
            (#"{"version": 1, "written_at": 1, "backends": {"web": {"backend": "api", "slots": []}}}"#, "backends.web.backend"),
        ]
        for (text, expected) in cases {
            try text.write(toFile: store.path, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try store.load(), text) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error) should mention \(expected)")
                XCTAssertTrue("\(error)".contains(store.path), "\(error) should name the file")
            }
        }
    }

    func test_an_instance_on_two_slots_is_rejected() throws {
        var doc = sampleDocument()
        doc.backends["web"]?.slots[1].state = .active
        doc.backends["web"]?.slots[1].instanceID = "file/web-1"
        let data = try StateStore.encode(doc)
        XCTAssertThrowsError(try StateStore.decode(data, path: "x")) { XCTAssertTrue("\($0)".contains("holds two slots"), "\($0)") }
    }

    func test_a_corrupt_file_is_moved_aside() throws {
        let store = StateStore(path: dir.file("state.json"))
        try "garbage".write(toFile: store.path, atomically: true, encoding: .utf8)
        let moved = try store.quarantine()
        XCTAssertTrue(moved.hasPrefix(store.path + ".corrupt-"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: store.path))
        XCTAssertEqual(try String(contentsOfFile: moved, encoding: .utf8), "garbage")
    }

    func test_an_unwritable_folder_is_an_error_naming_the_file_and_the_old_state_stays() throws {
        let sub = dir.file("ro")
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
        let store = StateStore(path: "\(sub)/state.json")
        try store.save(sampleDocument())
        chmod(sub, 0o500)
        defer { chmod(sub, 0o700) }
        if getuid() == 0 {
            // root ignores folder permissions; use a path under a file instead.
            let blocked = StateStore(path: dir.file("state.json") + "/below/state.json")
            try "x".write(toFile: dir.file("state.json"), atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try blocked.save(sampleDocument())) { XCTAssertTrue("\($0)".contains("below/state.json"), "\($0)") }
            return
        }
        var doc = sampleDocument()
        doc.writtenAt = 99
        XCTAssertThrowsError(try store.save(doc)) { XCTAssertTrue("\($0)".contains(store.path), "\($0)") }
        XCTAssertEqual(try store.load(), sampleDocument())
    }

    func test_no_write_is_ever_half_visible() async throws {
        // A reader racing many writers always sees a whole, valid document.
        let store = StateStore(path: dir.file("state.json"))
        try store.save(sampleDocument())
        let base = sampleDocument()
        let writer = Task.detached {
            for i in 0..<300 {
                var doc = base
                doc.writtenAt = Double(i)
                try store.save(doc)
            }
        }
        var reads = 0
        while !writer.isCancelled, reads < 2000 {
            _ = try store.load()
            reads += 1
        }
        try await writer.value
        XCTAssertEqual(try store.load()?.writtenAt, 299)
    }
}
