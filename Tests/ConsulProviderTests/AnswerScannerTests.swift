@testable import ConsulProvider
import TestSupport
import XCTest

/// The change feed's byte-level readers of the check list and the catalog: the same result as the full decoder on
/// Consul's answers, and a fallback to it (never a different answer) on everything else.
final class AnswerScannerTests: XCTestCase {
    /// A check as Consul 1.x writes it, with the fields the feed skips (escaped output, tags, a definition object).
    static let consulCheck = #"""
    {"Node":"node-1","CheckID":"service:web-1","Name":"Service 'web' check","Status":"passing","Notes":"",
     "Output":"HTTP GET http://10.0.0.1:8080/health: 200 OK Output: {\"ok\":true}\n\u00e9t\u00e9 \/ caf\u00e9 ✓","ServiceID":"web-1",
     "ServiceName":"web","ServiceTags":["v2","primary"],"Type":"http","Interval":"10s","Timeout":"1s","ExposedPort":0,
     "Definition":{"Interval":"0s","Timeout":"0s","DeregisterCriticalServiceAfter":"0s","HTTP":"","Header":null,"Method":"",
     "Body":"","TLSServerName":"","TLSSkipVerify":false,"TCP":"","UDP":"","GRPC":"","OSService":"","GRPCUseTLS":false},
     "Partition":"","Namespace":"","CreateIndex":12,"ModifyIndex":3456789012345}
    """#
    static let nodeCheck = #"{"Node":"node-1","CheckID":"serfHealth","Name":"Serf Health Status","Status":"critical","Notes":"","Output":"Agent not live or unreachable","ServiceID":"","ServiceName":"","ServiceTags":[],"Type":"","CreateIndex":5,"ModifyIndex":-0.0e0}"#

    func test_consul_check_list_reads_the_same_as_the_full_decoder() throws {
        let body = Array(" [\n\(Self.consulCheck) ,\(Self.consulCheck.replacingOccurrences(of: "web", with: "api"))\n] ".utf8)
        let fast = try XCTUnwrap(CheckListScanner.read(body), "Consul's own answer takes the fast path")
        XCTAssertEqual(fast, try ConsulMapping.decodeChecks(body))
        XCTAssertEqual(fast.first, ConsulCheck(node: "node-1", checkID: "service:web-1", status: "passing", serviceID: "web-1",
                                               serviceName: "web", createIndex: 12, modifyIndex: 3_456_789_012_345))
        XCTAssertEqual(CheckListScanner.read(Array("[]".utf8)), [])
        XCTAssertEqual(CheckListScanner.read(Array("[{}]".utf8)), [ConsulCheck(checkID: "", status: "")])
    }

    func test_check_list_outside_the_plain_shape_is_left_to_the_full_decoder() throws {
        let plain = #"{"Node":"n1","CheckID":"c","Status":"passing","CreateIndex":1,"ModifyIndex":2}"#
        XCTAssertNotNil(CheckListScanner.read(Array("[\(plain)]".utf8)))
        let others: [String: String] = [
            "other letter case": #"[{"node":"n1","CheckID":"c","Status":"passing"}]"#,
            "null": #"[{"Node":null,"CheckID":"c","Status":"passing"}]"#,
            "index as a string": #"[{"Node":"n1","CheckID":"c","Status":"passing","ModifyIndex":"2"}]"#,
            "index with a fraction": #"[{"Node":"n1","CheckID":"c","Status":"passing","ModifyIndex":2.0}]"#,
            "index too big": #"[{"Node":"n1","CheckID":"c","Status":"passing","ModifyIndex":18446744073709551616}]"#,
            "repeated field": #"[{"Node":"n1","Node":"n2","CheckID":"c","Status":"passing"}]"#,
            "escape in a kept field": #"[{"Node":"n\u0031","CheckID":"c","Status":"passing"}]"#,
            "element not an object": #"[\#(plain), 7]"#,
            "a node check": "[\(Self.nodeCheck)]",
            "bad escape": #"[{"Node":"n1","CheckID":"c","Status":"passing","Output":"\q"}]"#,
            "lone surrogate": #"[{"Node":"n1","CheckID":"c","Status":"passing","Output":"\ud800"}]"#,
            "control character": "[{\"Node\":\"n1\",\"Output\":\"a\u{1}b\"}]",
            "trailing bytes": "[\(plain)] x",
            "trailing comma": "[\(plain),]",
            "leading zero": #"[{"Node":"n1","CreateIndex":01}]"#,
            "not an array": "{}",
            "truncated": "[\(plain)".replacingOccurrences(of: "}", with: ""),
            "empty": "",
        ]
        for (what, text) in others {
            XCTAssertNil(CheckListScanner.read(Array(text.utf8)), what)
        }
        XCTAssertNil(CheckListScanner.read([UInt8](#"[{"Node":"n"#.utf8) + [0xC3, 0x28] + Array(#""}]"#.utf8)), "invalid UTF-8")
        XCTAssertNil(CheckListScanner.read([UInt8](#"[{"Output":"a"#.utf8) + [0xED, 0xA0, 0x80] + Array(#""}]"#.utf8)), "encoded surrogate")
        // The full decoder still reads the variants Consul's own decoder accepts, and words the errors.
        XCTAssertEqual(try ConsulMapping.parseChecks(Array(others["other letter case"]!.utf8)).first?.node, "n1")
        XCTAssertEqual(try ConsulMapping.parseChecks(Array(others["element not an object"]!.utf8)).count, 1)
        XCTAssertThrowsError(try ConsulMapping.parseChecks(Array(others["truncated"]!.utf8))) {
            XCTAssertTrue("\($0)".contains("health state answer is not valid JSON"), "\($0)")
        }
        XCTAssertThrowsError(try ConsulMapping.parseChecks(Array("{}".utf8))) {
            XCTAssertTrue("\($0)".contains("health state answer is not a JSON array of checks"), "\($0)")
        }
    }

    func test_catalog_reads_the_same_as_the_full_decoder() throws {
        let body = Array(#"{"consul":[],"web":["v2","primary"],"api-été":["a"]}"#.utf8)
        let fast = try XCTUnwrap(CatalogScanner.read(body))
        XCTAssertEqual(fast, ["consul": [], "web": ["v2", "primary"], "api-été": ["a"]])
        XCTAssertEqual(fast, try ConsulMapping.decodeCatalog(body))
        for text in [#"{"web":null}"#, #"{"web":[1]}"#, #"{"web":[],"web":["a"]}"#, #"{"w\u0065b":[]}"#, "[]", #"{"web":[]"#] {
            XCTAssertNil(CatalogScanner.read(Array(text.utf8)), text)
        }
        XCTAssertEqual(try ConsulMapping.parseCatalog(Array(#"{"web":null,"api":["a",1]}"#.utf8)), ["web": [], "api": ["a"]])
    }

    /// Random corruptions of real answers: whenever the fast path reads one, the full decoder reads it too, to the same
    /// checks. The fast path may give up on more than the decoder rejects, never on less.
    func test_fast_path_never_reads_what_the_full_decoder_would_not() {
        var rng = SplitMix64(seed: 11)
        let seeds = [Array("[\(Self.consulCheck),\(Self.nodeCheck.replacingOccurrences(of: "-0.0e0", with: "7"))]".utf8),
                     Array(#"{"consul":[],"web":["v2","primary"]}"#.utf8)]
        let alphabet = Array(#"{}[]:,"\ u0e.-+1aN"#.utf8) + [0x00, 0x1F, 0x80, 0xC3, 0xED, 0xF4, 0xFF]
        var read = 0
        for round in 0..<6000 {
            var bytes = seeds[round % 2]
            for _ in 0..<(1 + Int(rng.next() % 3)) {
                let at = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 3 {
                case 0: bytes[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                case 1: bytes.remove(at: at)
                default: bytes.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
                }
            }
            if let fast = CheckListScanner.read(bytes) {
                read += 1
                XCTAssertEqual(fast, try? ConsulMapping.decodeChecks(bytes), String(decoding: bytes, as: UTF8.self))
            }
            if let fast = CatalogScanner.read(bytes) {
                read += 1
                XCTAssertEqual(fast, try? ConsulMapping.decodeCatalog(bytes), String(decoding: bytes, as: UTF8.self))
            }
        }
        XCTAssertGreaterThan(read, 100, "the corruptions leave some answers readable")
    }
}
