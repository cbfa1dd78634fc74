import DiscoveryCore
import Foundation
import StateStore
import TestSupport
import XCTest

/// The state file's writer against `JSONEncoder`, which wrote every state file before it: byte for byte the same.
final class StateDocumentEncoderTests: XCTestCase {
    func reference(_ doc: StateDocument) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(doc))
    }

    func test_the_writer_spells_every_document_as_JSONEncoder_did() throws {
        var rng = SplitMix64(seed: 14)
        let awkward = ["web", "be10", "be2", "Web", "api/v1", "a\"b", "back\\slash", "tab\there", "line\nbreak", "\u{01}ctl", "\u{1F}",
                       "é-ünïcode", "日本", "emoji-🚀", "", "zz", "A", "_under", "-dash", "0num", "be02"]
        func pick() -> String { awkward[Int(rng.next() % UInt64(awkward.count))] }
        func number() -> Double {
            switch rng.next() % 6 {
            case 0: return 0
            case 1: return Double(rng.next() % 2_000_000_000)
            case 2: return Double(rng.next() % 2_000_000_000) + Double(rng.next() % 1_000_000) / 1_000_000
            case 3: return -Double(rng.next() % 1000) / 7
            case 4: return 1e21 * Double(rng.next() % 5 + 1)
            default: return Double(bitPattern: 0x3FF0_0000_0000_0000 | (rng.next() & 0x000F_FFFF_FFFF_FFFF))
            }
        }
        for round in 0..<300 {
            var backends: [String: BackendSlots] = [:]
            for b in 0..<Int(rng.next() % 6) {
                let name = b % 2 == 0 ? pick() + "\(b)" : "be\(rng.next() % 30)"
                var slots: [Slot] = []
                for n in 1...Int(rng.next() % 5 + 1) {
                    let state: SlotState = [.free, .active, .draining][Int(rng.next() % 3)]
                    slots.append(Slot(server: "\(pick())\(n)", number: n, dynamic: rng.next() % 2 == 0, state: state,
                                      instanceID: rng.next() % 3 == 0 ? nil : "file/\(pick())",
                                      address: rng.next() % 3 == 0 ? nil : (rng.next() % 2 == 0 ? "10.0.\(n).1" : "fe80::\(n)"),
                                      port: rng.next() % 3 == 0 ? nil : Int(rng.next() % 65536),
                                      weight: Int(rng.next() % 257), since: number(),
                                      drainDeadline: rng.next() % 2 == 0 ? nil : number()))
                }
                backends[name] = BackendSlots(backend: name, slots: slots)
            }
            var holds: [String: GuardHold] = [:]
            if rng.next() % 3 == 0 {
                holds[pick()] = GuardHold(fingerprint: (0..<Int(rng.next() % 4)).map { _ in pick() }, since: number(), reason: pick(),
                                          wouldRemove: Int(rng.next() % 100) - 10)
            }
            let identity: HAProxyIdentity? = switch rng.next() % 3 {
            case 0: nil
            case 1: HAProxyIdentity(pid: Int(rng.next() % 100_000), startTimeSec: nil)
            default: HAProxyIdentity(pid: Int(rng.next() % 100_000), startTimeSec: Int(rng.next() % 2_000_000_000))
            }
            let doc = StateDocument(writtenAt: number(), haproxy: identity, backends: backends, guardHolds: holds)
            let ours = Array(try StateStore.encode(doc))
            let theirs = try reference(doc)
            XCTAssertEqual(String(decoding: ours, as: UTF8.self), String(decoding: theirs, as: UTF8.self), "round \(round)")
            if ours != theirs { return }
        }
    }

    func test_a_number_json_cannot_spell_is_refused_with_its_place() {
        let doc = StateDocument(writtenAt: 1, haproxy: nil, backends: [
            "web": BackendSlots(backend: "web", slots: [Slot(server: "s1", number: 1, since: .nan)]),
        ])
        XCTAssertThrowsError(try StateStore.encode(doc)) { error in
            XCTAssertTrue("\(error)".contains("backends.web.slots[0].since"), "\(error)")
        }
    }
}

extension StateDocumentEncoderTests {
    func test_reused_tables_give_the_bytes_a_fresh_encoding_gives() throws {
        var rng = SplitMix64(seed: 99)
        var backends: [String: BackendSlots] = [:]
        for b in 0..<40 {
            backends["be\(b)"] = BackendSlots(backend: "be\(b)", slots: (1...5).map { Slot(server: "slot\($0)", number: $0, since: Double($0)) })
        }
        var cache = StateStore.EncodingCache()
        for round in 0..<200 {
            // One change per round: a slot moves, a backend appears or goes, or nothing at all.
            switch rng.next() % 4 {
            case 0:
                let name = "be\(rng.next() % 40)"
                if var t = backends[name], !t.slots.isEmpty {
                    let i = Int(rng.next() % UInt64(t.slots.count))
                    t.slots[i].state = .active
                    t.slots[i].address = "10.1.\(round % 250).\(i)"
                    t.slots[i].port = 8080
                    t.slots[i].instanceID = "file/i\(round)"
                    backends[name] = t
                }
            case 1: backends["new\(round)"] = BackendSlots(backend: "new\(round)", slots: [Slot(server: "slot1", number: 1)])
            case 2: backends.removeValue(forKey: backends.keys.sorted().first ?? "")
            default: break
            }
            let doc = StateDocument(writtenAt: Double(round), haproxy: HAProxyIdentity(pid: 7, startTimeSec: nil), backends: backends)
            let incremental = try StateStore.encode(doc, cache: &cache)
            XCTAssertEqual(incremental, try StateStore.encode(doc), "round \(round)")
            XCTAssertEqual(Array(incremental), try reference(doc), "round \(round)")
        }
    }

    func test_a_failed_encoding_forgets_the_cache_and_the_next_one_is_whole() throws {
        var cache = StateStore.EncodingCache()
        let good = StateDocument(writtenAt: 1, haproxy: nil, backends: ["web": BackendSlots(backend: "web", slots: [Slot(server: "s1", number: 1, since: 5)])])
        _ = try StateStore.encode(good, cache: &cache)
        var bad = good
        bad.backends["web"]?.slots[0].since = .infinity
        XCTAssertThrowsError(try StateStore.encode(bad, cache: &cache))
        XCTAssertEqual(try StateStore.encode(good, cache: &cache), try StateStore.encode(good))
    }
}
