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
            let bytes = Self.corrupt(seeds[round % 2], &rng, alphabet)
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

    /// One `/v1/health/service/web` entry as Consul 1.x writes it: node and service metadata the mapping skips, a
    /// null `Meta`, Connect and Proxy objects, weights, tagged addresses of both kinds, a service and a node check.
    static let consulEntry = #"""
    {"Node":{"ID":"40e4a748-2192-161a-0510-9bf59fe950b5","Node":"node-1","Address":"10.0.0.1","Datacenter":"dc1",
     "TaggedAddresses":{"lan":"10.0.0.1","lan_ipv4":"10.0.0.1","wan":"203.0.113.7","wan_ipv4":"203.0.113.7"},
     "Meta":{"consul-network-segment":"","rack":"r-1"},"CreateIndex":5,"ModifyIndex":9},
     "Service":{"Kind":"","ID":"web-1","Service":"web","Tags":["v2","primary"],"Address":"10.0.0.5",
     "TaggedAddresses":{"lan_ipv4":{"Address":"10.0.0.5","Port":8080},"wan_ipv4":{"Address":"203.0.113.7","Port":18080}},
     "Meta":null,"Port":8080,"Weights":{"Passing":10,"Warning":1},"EnableTagOverride":false,
     "Proxy":{"Mode":"","MeshGateway":{},"Expose":{}},"Connect":{},"PeerName":"","CreateIndex":12,"ModifyIndex":12},
     "Checks":[\#(consulCheck),{"Node":"node-1","CheckID":"serfHealth","Name":"Serf Health Status","Status":"passing",
     "Notes":"","Output":"Agent alive and reachable","ServiceID":"","ServiceName":"","ServiceTags":[],"Type":"",
     "CreateIndex":5,"ModifyIndex":5}]}
    """#

    func test_consul_health_entries_read_the_same_as_the_full_decoder() throws {
        let body = Array(" [\n\(Self.consulEntry) ,\(Self.consulEntry.replacingOccurrences(of: "web-1", with: "web-2"))\n] ".utf8)
        let fast = try XCTUnwrap(EntryScanner.read(body), "Consul's own answer takes the fast path")
        XCTAssertEqual(fast, try ConsulMapping.decodeEntries(body))
        let first = try XCTUnwrap(fast.first)
        XCTAssertEqual(first.node.name, "node-1")
        XCTAssertEqual(first.node.taggedAddresses["wan"], "203.0.113.7")
        XCTAssertEqual(first.service.id, "web-1")
        XCTAssertEqual(first.service.port, .int(8080))
        XCTAssertEqual(first.service.tags, ["v2", "primary"])
        XCTAssertEqual(first.service.meta, [:])
        XCTAssertEqual(first.service.taggedAddresses["wan_ipv4"], ConsulHealthEntry.TaggedAddress(address: "203.0.113.7", port: 18080))
        XCTAssertEqual(first.service.passingWeight, 10)
        XCTAssertEqual(first.checks.map(\.checkID), ["service:web-1", "serfHealth"])
        XCTAssertEqual(EntryScanner.read(Array("[]".utf8)), [])
        // What the fake (and a bare agent) sends: nulls for the containers read as empty, as the decoder reads them.
        let bare = #"[{"Node":{"Node":"n1","Address":"10.0.0.1","TaggedAddresses":null},"Service":{"ID":"a","Service":"web","Tags":null,"Meta":null,"TaggedAddresses":null,"Weights":null,"Port":80},"Checks":null}]"#
        XCTAssertEqual(try XCTUnwrap(EntryScanner.read(Array(bare.utf8))), try ConsulMapping.decodeEntries(Array(bare.utf8)))
    }

    func test_health_entries_outside_the_plain_shape_are_left_to_the_full_decoder() throws {
        let plain = #"{"Node":{"Node":"n1","Address":"10.0.0.1"},"Service":{"ID":"a","Service":"web","Port":80},"Checks":[]}"#
        XCTAssertNotNil(EntryScanner.read(Array("[\(plain)]".utf8)))
        func with(_ from: String, _ to: String) -> String { "[" + plain.replacingOccurrences(of: from, with: to) + "]" }
        let others: [String: String] = [
            "other letter case": with(#""Port":80"#, #""port":80"#),
            "null string": with(#""ID":"a""#, #""ID":null"#),
            "null port": with(#""Port":80"#, #""Port":null"#),
            "port as a string": with(#""Port":80"#, #""Port":"80""#),
            "negative port": with(#""Port":80"#, #""Port":-1"#),
            "port with a fraction": with(#""Port":80"#, #""Port":80.0"#),
            "port too big": with(#""Port":80"#, #""Port":9223372036854775808"#),
            "repeated field": with(#""ID":"a""#, #""ID":"a","ID":"b""#),
            "escape in a kept field": with(#""ID":"a""#, #""ID":"\u0061""#),
            "tag not a string": with(#""Port":80"#, #""Port":80,"Tags":["a",1]"#),
            "meta value not a string": with(#""Port":80"#, #""Port":80,"Meta":{"k":1}"#),
            "repeated meta key": with(#""Port":80"#, #""Port":80,"Meta":{"k":"a","k":"b"}"#),
            "weight not an integer": with(#""Port":80"#, #""Port":80,"Weights":{"Passing":"10"}"#),
            "check not an object": with(#""Checks":[]"#, #""Checks":[7]"#),
            "checks not an array": with(#""Checks":[]"#, #""Checks":{}"#),
            "no Service": "[" + #"{"Node":{"Node":"n1"}}"# + "]",
            "null Node": with(#""Node":{"Node":"n1","Address":"10.0.0.1"}"#, #""Node":null"#),
            "entry not an object": "[\(plain), 7]",
            "not an array": plain,
            "trailing bytes": "[\(plain)] x",
            "truncated": "[\(plain)",
            "empty": "",
        ]
        for (what, text) in others {
            XCTAssertNil(EntryScanner.read(Array(text.utf8)), what)
        }
        // The full decoder still reads the variants, and words the errors.
        XCTAssertEqual(try ConsulMapping.parseEntries(Array(others["other letter case"]!.utf8)).first?.service.port, .int(80))
        XCTAssertEqual(try ConsulMapping.parseEntries(Array(others["tag not a string"]!.utf8)).first?.service.tags, ["a"])
        XCTAssertThrowsError(try ConsulMapping.parseEntries(Array(others["no Service"]!.utf8))) {
            XCTAssertTrue("\($0)".contains("health answer is not a JSON array of entries"), "\($0)")
        }
        XCTAssertThrowsError(try ConsulMapping.parseEntries(Array(others["truncated"]!.utf8))) {
            XCTAssertTrue("\($0)".contains("health answer is not valid JSON"), "\($0)")
        }
    }

    /// Random corruptions of a real health answer: whenever the fast path reads one, the full decoder reads it too,
    /// to the same entries.
    func test_health_entry_fast_path_never_reads_what_the_full_decoder_would_not() {
        var rng = SplitMix64(seed: 29)
        let seed = Array("[\(Self.consulEntry)]".utf8)
        let alphabet = Array(#"{}[]:,"\ u0e.-+1aNn"#.utf8) + [0x00, 0x1F, 0x80, 0xC3, 0xED, 0xF4, 0xFF]
        var read = 0
        for _ in 0..<6000 {
            let bytes = Self.corrupt(seed, &rng, alphabet)
            if let fast = EntryScanner.read(bytes) {
                read += 1
                XCTAssertEqual(fast, try? ConsulMapping.decodeEntries(bytes), String(decoding: bytes, as: UTF8.self))
            }
        }
        XCTAssertGreaterThan(read, 1000, "most corruptions fall in skipped fields and leave the answer readable")
    }

    /// `seed` with one to three bytes replaced, removed or inserted (from `alphabet`).
    static func corrupt(_ seed: [UInt8], _ rng: inout SplitMix64, _ alphabet: [UInt8]) -> [UInt8] {
        var bytes = seed
        for _ in 0..<(1 + Int(rng.next() % 3)) {
            let at = Int(rng.next() % UInt64(bytes.count))
            switch rng.next() % 3 {
            case 0: bytes[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
            case 1: bytes.remove(at: at)
            default: bytes.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
            }
        }
        return bytes
    }
}
