import DiscoveryCore
import TestSupport
import XCTest

final class JSONValueTests: XCTestCase {
    private func parse(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> JSONValue? {
        do {
            return try JSONValue.parse(text)
        } catch {
            XCTFail("unexpected parse error \(error) for \(text)", file: file, line: line)
            return nil
        }
    }

    private func parseError(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> JSONParseError? {
        do {
            let v = try JSONValue.parse(text)
            XCTFail("expected a parse error, got \(v)", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    // MARK: valid documents

    func test_a_document_with_every_kind_of_value_parses_exactly() {
        let text = """
        {"name": "web", "slots": 10, "ratio": 0.5, "on": true, "off": false, "none": null,
         "list": [1, "two", [], {}], "nested": {"a": {"b": [null]}}}
        """
        XCTAssertEqual(parse(text), .object([
            "name": .string("web"), "slots": .int(10), "ratio": .double(0.5), "on": .bool(true), "off": .bool(false),
            "none": .null, "list": .array([.int(1), .string("two"), .array([]), .object([:])]),
            "nested": .object(["a": .object(["b": .array([.null])])]),
        ]))
    }

    func test_scalars_are_documents_too_and_surrounding_whitespace_is_ignored() {
        XCTAssertEqual(parse(" \t\r\n 42 \n"), .int(42))
        XCTAssertEqual(parse("\"x\""), .string("x"))
        XCTAssertEqual(parse("null"), .null)
        XCTAssertEqual(parse("[ ]"), .array([]))
        XCTAssertEqual(parse("{ }"), .object([:]))
    }

    func test_a_utf8_byte_order_mark_is_skipped() throws {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("{\"a\":1}".utf8)
        XCTAssertEqual(try JSONValue.parse(bytes: bytes), .object(["a": .int(1)]))
    }

    // MARK: numbers

    func test_integers_stay_integers_and_fractions_or_exponents_are_doubles() {
        XCTAssertEqual(parse("0"), .int(0))
        XCTAssertEqual(parse("-0"), .int(0))
        XCTAssertEqual(parse("-17"), .int(-17))
        XCTAssertEqual(parse("9223372036854775807"), .int(Int64.max))
        XCTAssertEqual(parse("-9223372036854775808"), .int(Int64.min))
        XCTAssertEqual(parse("1.5"), .double(1.5))
        XCTAssertEqual(parse("10.0"), .double(10))
        XCTAssertEqual(parse("1e3"), .double(1000))
        XCTAssertEqual(parse("1E+3"), .double(1000))
        XCTAssertEqual(parse("25e-2"), .double(0.25))
        XCTAssertEqual(parse("-0.125"), .double(-0.125))
    }

    func test_an_integer_beyond_int64_becomes_a_double() {
        XCTAssertEqual(parse("9223372036854775808"), .double(9223372036854775808.0))
    }

    func test_malformed_numbers_are_rejected_with_their_position() {
        XCTAssertEqual(parseError("01")?.message, "leading zero in number")
        XCTAssertEqual(parseError("[1.]")?.message, "invalid number")
        XCTAssertEqual(parseError("[1.]")?.column, 2)
        XCTAssertEqual(parseError("-")?.message, "invalid number")
        XCTAssertEqual(parseError("1e")?.message, "invalid number")
        XCTAssertEqual(parseError("1e+")?.message, "invalid number")
        XCTAssertEqual(parseError(".5")?.message, "unexpected character '.'")
        XCTAssertEqual(parseError("+1")?.message, "unexpected character '+'")
        XCTAssertEqual(parseError("1e400")?.message, "number out of range")
    }

    func test_int_value_accepts_whole_doubles_and_rejects_fractions() {
        XCTAssertEqual(JSONValue.double(10).intValue, 10)
        XCTAssertNil(JSONValue.double(10.5).intValue)
        XCTAssertNil(JSONValue.double(1e300).intValue)
        XCTAssertNil(JSONValue.string("10").intValue)
        XCTAssertEqual(JSONValue.int(3).doubleValue, 3)
    }

    // MARK: strings, escapes and unicode

    func test_every_escape_is_decoded() {
        XCTAssertEqual(parse(#""a\"b\\c\/d\be\ff\ng\rh\ti""#), .string("a\"b\\c/d\u{08}e\u{0C}f\ng\rh\ti"))
    }

    func test_unicode_escapes_and_surrogate_pairs_are_decoded() {
        XCTAssertEqual(parse(#""\u00e9\u00C9""#), .string("éÉ"))
        XCTAssertEqual(parse(#""\ud83d\ude00""#), .string("😀"))
        XCTAssertEqual(parse(#""\u0000""#), .string("\u{0}"))
    }

    func test_raw_utf8_in_strings_is_kept() {
        XCTAssertEqual(parse("\"grüße 日本 😀\""), .string("grüße 日本 😀"))
    }

    func test_broken_strings_are_rejected() {
        XCTAssertEqual(parseError(#""\ud83d""#)?.message, "unpaired surrogate in \\u escape")
        XCTAssertEqual(parseError(#""\ude00""#)?.message, "unpaired surrogate in \\u escape")
        XCTAssertEqual(parseError(#""\ud83d\u0041""#)?.message, "invalid low surrogate in \\u escape")
        XCTAssertEqual(parseError(#""\u12zz""#)?.message, "invalid hex digit in \\u escape")
        XCTAssertEqual(parseError(#""\u12"#)?.message, "truncated \\u escape")
        XCTAssertEqual(parseError(#""\x""#)?.message, "invalid escape '\\x'")
        XCTAssertEqual(parseError("\"a\nb\"")?.message, "control character in string")
        XCTAssertEqual(parseError("\"abc")?.message, "unterminated string")
        XCTAssertEqual(parseError("\"abc")?.column, 1, "an unterminated string is reported where it starts")
    }

    func test_invalid_utf8_in_a_string_is_rejected() {
        let bytes: [UInt8] = [UInt8(ascii: "\""), 0xC3, 0x28, UInt8(ascii: "\"")]
        XCTAssertThrowsError(try JSONValue.parse(bytes: bytes)) { error in
            XCTAssertEqual((error as? JSONParseError)?.message, "invalid UTF-8 in string")
        }
    }

    // MARK: errors with line and column

    func test_garbage_is_reported_at_its_line_and_column() {
        let error = parseError("{\"a\": 1,\n  \"b\": x}")
        XCTAssertEqual(error?.description, "line 2 column 8: unexpected character 'x'")
        XCTAssertEqual(error?.description, "line 2 column 8: unexpected character 'x'")
    }

    func test_columns_count_characters_not_bytes() {
        XCTAssertEqual(parseError("[\"é日\", x]").map { [$0.line, $0.column] }, [1, 8])
    }

    func test_columns_restart_after_each_newline() {
        XCTAssertEqual(parseError("[\n1,\n\n   ?]").map { [$0.line, $0.column] }, [4, 4])
    }

    func test_structural_mistakes_are_named() {
        XCTAssertEqual(parseError("")?.description, "line 1 column 1: empty document")
        XCTAssertEqual(parseError("  \n ")?.message, "empty document")
        XCTAssertEqual(parseError("1 2")?.description, "line 1 column 3: unexpected text after the JSON value")
        XCTAssertEqual(parseError("[1,]")?.message, "unexpected character ']'")
        XCTAssertEqual(parseError("{\"a\":1,}")?.message, "expected a string key")
        XCTAssertEqual(parseError("{a:1}")?.message, "expected a string key")
        XCTAssertEqual(parseError("{\"a\" 1}")?.message, "expected ':' after key \"a\"")
        XCTAssertEqual(parseError("{\"a\":1 \"b\":2}")?.message, "expected ',' or '}' in an object")
        XCTAssertEqual(parseError("[1 2]")?.message, "expected ',' or ']' in an array")
        XCTAssertEqual(parseError("[1, 2")?.message, "unexpected end of input inside an array")
        XCTAssertEqual(parseError("{\"a\": 1")?.message, "unexpected end of input inside an object")
        XCTAssertEqual(parseError("[")?.message, "unexpected end of input")
        XCTAssertEqual(parseError("tru")?.description, "line 1 column 1: invalid literal, expected true")
        XCTAssertEqual(parseError("[nul]")?.column, 2)
    }

    func test_a_duplicate_key_is_an_error_at_the_second_key() {
        XCTAssertEqual(parseError("{\"a\": 1,\n \"a\": 2}")?.description, "line 2 column 2: duplicate key \"a\"")
        XCTAssertEqual(parseError("{\"x\": {\"k\": 1, \"k\": 1}}")?.message, "duplicate key \"k\"")
    }

    func test_equal_keys_in_different_objects_are_fine() {
        XCTAssertEqual(parse("[{\"a\":1},{\"a\":2}]"), .array([.object(["a": .int(1)]), .object(["a": .int(2)])]))
    }

    // MARK: depth limit

    func test_nesting_up_to_the_limit_parses_and_one_more_level_fails() throws {
        let ok = String(repeating: "[", count: 128) + String(repeating: "]", count: 128)
        XCTAssertNoThrow(try JSONValue.parse(ok))
        let tooDeep = String(repeating: "[", count: 129) + String(repeating: "]", count: 129)
        XCTAssertEqual(parseError(tooDeep)?.message, "nesting deeper than 128 levels")
        XCTAssertEqual(parseError(tooDeep)?.column, 129)
    }

    func test_a_custom_depth_limit_applies_to_objects_and_arrays() {
        XCTAssertNoThrow(try JSONValue.parse(bytes: Array("{\"a\":[1]}".utf8), maxDepth: 3))
        XCTAssertThrowsError(try JSONValue.parse(bytes: Array("{\"a\":[1]}".utf8), maxDepth: 2)) { error in
            XCTAssertEqual((error as? JSONParseError)?.message, "nesting deeper than 2 levels")
        }
    }

    func test_a_hostile_deeply_nested_document_fails_cleanly() {
        let hostile = String(repeating: "[", count: 100_000)
        XCTAssertEqual(parseError(hostile)?.message, "nesting deeper than 128 levels")
    }

    // MARK: serialization

    func test_serialized_is_compact_with_sorted_keys() {
        let v: JSONValue = .object(["b": .array([.int(1), .null]), "a": .string("x\"y\n"), "c": .bool(true)])
        XCTAssertEqual(v.serialized(), #"{"a":"x\"y\n","b":[1,null],"c":true}"#)
    }

    func test_pretty_serialization_indents_by_two_spaces() {
        let v: JSONValue = .object(["a": .array([.int(1)]), "b": .object([:])])
        XCTAssertEqual(v.serialized(pretty: true), "{\n  \"a\": [\n    1\n  ],\n  \"b\": {}\n}")
    }

    func test_control_characters_are_escaped_and_other_unicode_is_written_raw() {
        XCTAssertEqual(JSONValue.string("\u{01}\u{1F}\t\r é").serialized(), "\"\\u0001\\u001f\\t\\r é\"")
    }

    func test_non_finite_doubles_serialize_as_null() {
        XCTAssertEqual(JSONValue.double(.infinity).serialized(), "null")
        XCTAssertEqual(JSONValue.double(.nan).serialized(), "null")
    }

    func test_serialized_output_parses_back_to_the_same_value_for_random_documents() throws {
        for seed in UInt64(1)...300 {
            var rng = SplitMix64(seed: seed)
            let value = Self.randomValue(&rng, depth: 0)
            for pretty in [false, true] {
                let text = value.serialized(pretty: pretty)
                do {
                    let back = try JSONValue.parse(text)
                    XCTAssertEqual(back, value, "seed \(seed) pretty \(pretty): \(text)")
                } catch {
                    XCTFail("seed \(seed) pretty \(pretty): \(error) in \(text)")
                }
            }
        }
    }

    static func randomValue(_ rng: inout SplitMix64, depth: Int) -> JSONValue {
        let kind = depth >= 4 ? rng.int(0...4) : rng.int(0...6)
        switch kind {
        case 0: return .null
        case 1: return .bool(rng.chance(0.5))
        case 2:
            return .int(rng.chance(0.2) ? [Int64.min, Int64.max, 0, -1][rng.int(0...3)] : Int64(rng.int(-100_000...100_000)))
        case 3:
            var d: Double
            repeat { d = Double(bitPattern: rng.next()) } while !d.isFinite
            return .double(rng.chance(0.5) ? d : Double(rng.int(-1000...1000)) / 8)
        case 4: return .string(randomString(&rng))
        case 5: return .array((0..<rng.int(0...5)).map { _ in randomValue(&rng, depth: depth + 1) })
        default:
            var o: [String: JSONValue] = [:]
            for _ in 0..<rng.int(0...5) { o[randomString(&rng)] = randomValue(&rng, depth: depth + 1) }
            return .object(o)
        }
    }

    static func randomString(_ rng: inout SplitMix64) -> String {
        let alphabet: [Unicode.Scalar] = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u{0}", "\u{1F}", "\u{7F}", "é", "日", "😀", "\u{FFFF}"]
        var s = String.UnicodeScalarView()
        for _ in 0..<rng.int(0...8) { s.append(alphabet[rng.int(0...(alphabet.count - 1))]) }
        return String(s)
    }

    func test_short_descriptions_name_the_value_for_error_messages() {
        XCTAssertEqual(JSONValue.string("ten").shortDescription, "\"ten\"")
        XCTAssertEqual(JSONValue.int(5).shortDescription, "5")
        XCTAssertEqual(JSONValue.double(1.5).shortDescription, "1.5")
        XCTAssertEqual(JSONValue.object([:]).shortDescription, "an object")
        XCTAssertEqual(JSONValue.array([]).shortDescription, "an array")
        XCTAssertEqual(JSONValue.null.shortDescription, "null")
        XCTAssertEqual(JSONValue.string(String(repeating: "x", count: 61)).shortDescription, "\"" + String(repeating: "x", count: 57) + "...\"")
    }
}
