import DiscoveryCore
import Foundation
@testable import FileProvider
import TestSupport
import XCTest

/// The fast instances reader: whatever it accepts, the strict reader accepts with the same result; whatever it does
/// not, the strict reader decides, with its exact error text; a rewrite reads only the services whose bytes changed.
final class InstancesFileReaderTests: XCTestCase {
    static let seed = #"""
    {"services": {"web": [{"id": "web-1", "address": "10.0.0.1", "port": 8080, "weight": 100, "health": "warning", "tags": ["v2", "é"], "meta": {"az": "a", "rack": "r1"}},
                          {"address": "::1"}, {"id": "web-3", "address": "2001:db8::7", "port": 1, "weight": 0, "health": "maintenance"}],
                  "api": [], "db": [{"id": "d", "address": "192.168.0.1", "tags": [], "meta": {}}]}}
    """#

    func fast(_ bytes: [UInt8]) -> [String: [Instance]]? {
        InstancesFastPath.read(bytes, previous: [], sections: [:])?.services
    }

    func test_every_field_of_the_common_shape_is_read_by_the_fast_path() throws {
        let bytes = Array(Self.seed.utf8)
        let services = try XCTUnwrap(fast(bytes), "the seed is in the fast path's shape")
        XCTAssertEqual(services, try InstancesFile.parseStrict(bytes, file: "f.json"))
        XCTAssertEqual(services["web"]?[1], Instance(id: "[::1]:0", address: "::1"))
        XCTAssertEqual(services["web"]?[0].tags, ["v2", "é"])
        XCTAssertEqual(services["api"], [])
    }

    func test_shapes_outside_the_fast_path_are_read_by_the_strict_reader_with_the_same_result() throws {
        let cases = [
            #"{"services": {"web": [{"id": "w\u0031", "address": "10.0.0.1"}]}}"#,          // escape
            #"{"services": {"web": [{"id": "w1", "address": "10.0.0.1", "port": null}]}}"#,  // null is absent
            #"{"services": {"web": [{"id": "w1", "address": "10.0.0.1", "port": 8080.0}]}}"#,
            #"{"services": {"web": [{"id": "w1", "address": "10.0.0.1", "port": 8.08e3}]}}"#,
            #"{"services": {"web": [{"id": null, "address": "10.0.0.1", "weight": 1E1}]}}"#,
            "\u{FEFF} {\"services\": {}} \n",
        ]
        for text in cases {
            let bytes = Array(text.utf8)
            var reader = InstancesFileReader()
            let got = try reader.parse(bytes, file: "f.json")
            XCTAssertEqual(got, try InstancesFile.parseStrict(bytes, file: "f.json"), text)
            if fast(bytes) == nil { XCTAssertTrue(reader.lastUsedStrictReader, text) }
        }
    }

    func test_errors_are_exactly_those_of_the_strict_reader() {
        let cases = [
            #"{"services": {"web": [{"id": "a", "address": "web.example"}]}}"#,
            #"{"services": {"web": [{"id": "a", "address": "10.0.0.1", "port": 70000}]}}"#,
            #"{"services": {"web": [{"id": "a", "address": "10.0.0.1", "port": 0}]}}"#,
            #"{"services": {"web": [{"id": "a", "address": "10.0.0.1", "port": 080}]}}"#,
            #"{"services": {"web": [{"id": "a", "address": "10.0.0.1", "port": -1}]}}"#,
            #"{"services": {"web": [{"id": "a", "address": "10.0.0.1", "weight": 257}]}}"#,
            #"{"services": {"web": [{"id": "", "address": "10.0.0.1"}]}}"#,
            #"{"services": {"web": [{"id": "a", "address": "10.0.0.1", "health": "ok"}]}}"#,
            #"{"services": {"web": [{"id": "a", "address": "10.0.0.1", "colour": "red"}]}}"#,
            #"{"services": {"web": [{"id": "a", "address": "10.0.0.1", "id": "b"}]}}"#,
            #"{"services": {"web": [{"id": "a", "address": "10.0.0.1", "meta": {"k": "1", "k": "2"}}]}}"#,
            #"{"services": {"web": [{"id": "a", "address": "10.0.0.1", "tags": ["x", 1]}]}}"#,
            #"{"services": {"web": [{"id": "a", "address": "10.0.0.1"}, {"id": "a", "address": "10.0.0.2"}]}}"#,
            #"{"services": {"web": [], "web": []}}"#,
            #"{"services": {"web": {}}}"#,
            #"{"services": {"web": null}}"#,
            #"{"services": null}"#,
            #"{"services": {}, "extra": 1}"#,
            #"{"servics": {}}"#,
            #"{"services": {"web": [}"#,
            #"{"services": {"web": [{"address": "10.0.0.1"}]}} x"#,
            #"{"services": {"web": [{"id": "a\#u{01}", "address": "10.0.0.1"}]}}"#,
            "[]", "",
        ]
        let invalidUTF8 = Array(#"{"services": {"w"#.utf8) + [0xFF] + Array(#"": []}}"#.utf8)
        for (text, bytes) in cases.map({ ($0, Array($0.utf8)) }) + [("invalid UTF-8", invalidUTF8)] {
            XCTAssertNil(fast(bytes), "the fast path must give up on \(text)")
            var reader = InstancesFileReader()
            let got = Result { () throws(ConfigError) in try reader.parse(bytes, file: "/etc/x.json") }
            let strict = Result { () throws(ConfigError) in try InstancesFile.parseStrict(bytes, file: "/etc/x.json") }
            guard case .failure(let error) = got, case .failure(let expected) = strict else {
                XCTFail("\(text) should be rejected by both readers")
                continue
            }
            XCTAssertEqual(error, expected, text)
        }
    }

    func test_fast_path_agrees_with_the_strict_reader_on_thousands_of_mutated_files() {
        var (rng, seed) = SplitMix64.seeded()
        let tokens: [[UInt8]] = ["null", "1e3", "0", "-1", "\\u0041", "\"", ",", "{", "}", "[", "]", ":", "\"id\"", "\"port\"", "\"meta\"", "\"tags\"", "256", "65535", " ", "\u{FF}"].map { Array($0.utf8) }
        let base = Array(Self.seed.utf8)
        var fastAccepted = 0, strictOnly = 0
        for k in 0..<4_000 {
            var bytes = base
            for _ in 0..<rng.int(1...3) {
                let at = rng.int(0...(bytes.count - 1))
                switch rng.int(0...3) {
                case 0: bytes.remove(at: at)
                case 1: bytes.insert(contentsOf: tokens[rng.int(0...(tokens.count - 1))], at: at)
                case 2: bytes[at] = UInt8(truncatingIfNeeded: rng.int(0x20...0x7E))
                default: bytes.replaceSubrange(at..<min(bytes.count, at + rng.int(1...12)), with: tokens[rng.int(0...(tokens.count - 1))])
                }
            }
            let strict = Result { () throws(ConfigError) in try InstancesFile.parseStrict(bytes, file: "f.json") }
            if let got = fast(bytes) {
                fastAccepted += 1
                guard case .success(let expected) = strict else {
                    XCTFail("seed \(seed), input \(k): the fast path accepted what the strict reader rejects: \(String(decoding: bytes, as: UTF8.self))")
                    return
                }
                XCTAssertEqual(got, expected, "seed \(seed), input \(k)")
            } else if case .success = strict {
                strictOnly += 1
            }
        }
        XCTAssertGreaterThan(fastAccepted, 100, "the mutations should leave many files in the fast path's shape")
        print("figure: fast path accepted \(fastAccepted) of 4000 mutated files, strict-only \(strictOnly) (seed \(seed))")
    }

    func test_a_rewrite_parses_only_the_services_whose_bytes_changed() throws {
        func doc(_ ports: [Int]) -> [UInt8] {
            let services = ports.enumerated().map { s, port in
                "\"svc\(s)\": [" + (1...3).map { "{\"id\": \"i\($0)\", \"address\": \"10.0.\(s).\($0)\", \"port\": \(port)}" }.joined(separator: ", ") + "]"
            }
            return Array(("{\"services\": {" + services.joined(separator: ",\n ") + "}}").utf8)
        }
        var reader = InstancesFileReader()
        let first = try reader.parse(doc([80, 80, 80, 80]), file: "f.json")
        XCTAssertEqual(reader.lastReused, 0)
        let second = try reader.parse(doc([80, 81, 80, 80]), file: "f.json")
        XCTAssertEqual(reader.lastReused, 3, "three services kept their bytes")
        XCTAssertEqual(second, try InstancesFile.parseStrict(doc([80, 81, 80, 80]), file: "f.json"))
        XCTAssertEqual(second["svc0"], first["svc0"])
        XCTAssertEqual(second["svc1"]?.map(\.port), [81, 81, 81])

        // A service removed and the rest shifted in the file: unchanged arrays are still found by name.
        let shifted = Array(#"{"services": {"svc2": [{"id": "i1", "address": "10.0.2.1", "port": 80}, {"id": "i2", "address": "10.0.2.2", "port": 80}, {"id": "i3", "address": "10.0.2.3", "port": 80}]}}"#.utf8)
        XCTAssertEqual(try reader.parse(shifted, file: "f.json"), ["svc2": first["svc2"] ?? []])
        XCTAssertEqual(reader.lastReused, 1)

        // A rejected file leaves the remembered version alone; the next good one still reuses it.
        XCTAssertThrowsError(try reader.parse(Array(#"{"services": {"svc2": [}"#.utf8), file: "f.json"))
        _ = try reader.parse(shifted, file: "f.json")
        XCTAssertEqual(reader.lastReused, 1)

        // The same bytes under another service's name are parsed afresh (reuse is by name and bytes).
        let renamed = Array(String(decoding: shifted, as: UTF8.self).replacingOccurrences(of: "svc2", with: "svc9").utf8)
        XCTAssertEqual(try reader.parse(renamed, file: "f.json")["svc9"]?.count, 3)
        XCTAssertEqual(reader.lastReused, 0)
    }
}
