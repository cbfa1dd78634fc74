import DiscoveryCore
import Foundation
import TestSupport
import XCTest

/// `backends[].persistence`: validated with the JSON path, the cookie key read from its file and never printed.
final class PersistenceConfigTests: XCTestCase {
    var dir: TemporaryDirectory!

    override func setUpWithError() throws { dir = try TemporaryDirectory(prefix: "db-persist") }
    override func tearDown() { dir.remove() }

    private func load(_ persistence: String) throws(ConfigError) -> BackendConfig {
        let text = """
        {"haproxy": {"runtime_api": "unix:/tmp/x.sock"}, "providers": {"file": {}},
         "backends": [{"name": "web", "slots": 2, "sources": [{"provider": "file", "service": "web"}], "persistence": \(persistence)}]}
        """
        let loaded = try Fixtures.loader().load(bytes: Array(text.utf8), configDirectory: dir.path)
        return loaded.config.backends[0]
    }

    private func error(_ persistence: String) -> ConfigError? {
        do { _ = try load(persistence); return nil } catch { return error }
    }

    func test_without_persistence_the_mode_is_none_and_no_lines_are_rendered() throws {
        let text = """
        {"haproxy": {"runtime_api": "unix:/tmp/x.sock"}, "providers": {"file": {}},
         "backends": [{"name": "web", "slots": 2, "sources": [{"provider": "file", "service": "web"}]}]}
        """
        let b = try Fixtures.loader().load(bytes: Array(text.utf8), configDirectory: dir.path).config.backends[0]
        XCTAssertEqual(b.persistence.mode, .none)
        XCTAssertEqual(b.persistence.haproxyLines, [])
        XCTAssertEqual(try load(#"{"mode": "none"}"#).persistence.haproxyLines, [])
    }

    func test_source_mode_keys_the_stick_table_by_address_with_size_expiry_and_peers() throws {
        let defaults = try load(#"{"mode": "source"}"#).persistence
        XCTAssertEqual(defaults.haproxyLines, ["stick-table type ip size 100k expire 30m srvkey addr", "stick on src"])
        let full = try load(#"{"mode": "source", "table_size": "1m", "expire": "2h", "peers": "lbpair"}"#).persistence
        XCTAssertEqual(full.haproxyLines, ["stick-table type ip size 1m expire 2h srvkey addr peers lbpair", "stick on src"])
    }

    func test_cookie_mode_uses_dynamic_cookies_with_the_key_from_its_file() throws {
        try dir.write("cookie.key", "0123456789abcdef0123\n")
        let p = try load(#"{"mode": "cookie", "cookie_key_file": "cookie.key"}"#).persistence
        XCTAssertEqual(p.haproxyLines, ["cookie SRVID insert indirect nocache dynamic", "dynamic-cookie-key 0123456789abcdef0123"])
        XCTAssertEqual(p.cookieKeyFile, dir.file("cookie.key"), "a relative key file resolves against the config's folder")
        let named = try load(#"{"mode": "cookie", "cookie_name": "LB", "cookie_key_file": "cookie.key"}"#).persistence
        XCTAssertEqual(named.haproxyLines.first, "cookie LB insert indirect nocache dynamic")
    }

    func test_the_cookie_key_never_appears_in_descriptions() throws {
        try dir.write("cookie.key", "s3cr3t-s3cr3t-s3cr3t")
        let b = try load(#"{"mode": "cookie", "cookie_key_file": "cookie.key"}"#)
        XCTAssertFalse(String(describing: b).contains("s3cr3t"))
        XCTAssertFalse(String(reflecting: b).contains("s3cr3t"))
        XCTAssertFalse(b.persistence.description.contains("s3cr3t"))
    }

    func test_a_missing_unreadable_empty_or_unsafe_key_file_is_a_config_error_with_its_path() throws {
        let missing = error(#"{"mode": "cookie", "cookie_key_file": "nope.key"}"#)
        XCTAssertEqual(missing?.path, "backends[0].persistence.cookie_key_file")
        XCTAssertTrue(missing?.message.contains(dir.file("nope.key")) ?? false, "\(String(describing: missing))")

        try dir.write("empty.key", "\n")
        XCTAssertTrue(error(#"{"mode": "cookie", "cookie_key_file": "empty.key"}"#)?.message.contains("is empty") ?? false)

        try dir.write("unreadable.key", "0123456789abcdef0123")
        chmod(dir.file("unreadable.key"), 0o000)
        if getuid() != 0 {
            XCTAssertEqual(error(#"{"mode": "cookie", "cookie_key_file": "unreadable.key"}"#)?.path, "backends[0].persistence.cookie_key_file")
        }

        try dir.write("spaces.key", "has spaces in it, and it is long")
        let spaced = error(#"{"mode": "cookie", "cookie_key_file": "spaces.key"}"#)
        XCTAssertTrue(spaced?.message.contains("printable ASCII") ?? false)
        XCTAssertFalse(spaced?.description.contains("has spaces") ?? true, "the key is never echoed")

        try dir.write("short.key", "short")
        XCTAssertTrue(error(#"{"mode": "cookie", "cookie_key_file": "short.key"}"#)?.message.contains("at least 16") ?? false)

        XCTAssertEqual(error(#"{"mode": "cookie"}"#)?.path, "backends[0].persistence.cookie_key_file")
    }

    func test_bad_values_are_named_by_path() {
        XCTAssertEqual(error(#"{"mode": "sticky"}"#)?.path, "backends[0].persistence.mode")
        XCTAssertEqual(error(#"{}"#)?.path, "backends[0].persistence.mode")
        XCTAssertEqual(error(#""source""#)?.path, "backends[0].persistence")
        XCTAssertEqual(error(#"{"mode": "source", "table_size": "lots"}"#)?.path, "backends[0].persistence.table_size")
        XCTAssertEqual(error(#"{"mode": "source", "table_size": "0k"}"#)?.path, "backends[0].persistence.table_size")
        XCTAssertEqual(error(#"{"mode": "source", "expire": "forever"}"#)?.path, "backends[0].persistence.expire")
        XCTAssertEqual(error(#"{"mode": "source", "expire": "0s"}"#)?.path, "backends[0].persistence.expire")
        XCTAssertEqual(error(#"{"mode": "source", "peers": "my peers"}"#)?.path, "backends[0].persistence.peers")
        XCTAssertEqual(error(#"{"mode": "source", "cookie_name": "X"}"#)?.path, "backends[0].persistence.cookie_name")
        XCTAssertEqual(error(#"{"mode": "cookie", "peers": "p", "cookie_key_file": "k"}"#)?.path, "backends[0].persistence.peers")
        XCTAssertEqual(error(#"{"mode": "none", "expire": "1m"}"#)?.path, "backends[0].persistence.expire")
        XCTAssertEqual(error(#"{"mode": "source", "sticky": true}"#)?.path, "backends[0].persistence.sticky")
    }
}
