import ConsulProvider
import DiscoveryCore
import Foundation
import Logging
import XCTest

final class ConsulConfigTests: XCTestCase {
    let path = "providers.consul"

    func context(_ env: [String: String] = [:], dir: String = "") -> ProviderContext {
        ProviderContext(environment: env, logger: Logger(label: "test"), configDirectory: dir)
    }

    func parse(_ json: String, env: [String: String] = [:]) throws -> ConsulSettings {
        try ConsulSettings.parse(try JSONValue.parse(json), path: path, context: context(env))
    }

    func assertConfigError(_ json: String, path expected: String, contains text: String = "", env: [String: String] = [:],
                           file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try parse(json, env: env), file: file, line: line) { error in
            guard let e = error as? ConfigError else { return XCTFail("not a ConfigError: \(error)", file: file, line: line) }
            XCTAssertEqual(e.path, expected, "\(e)", file: file, line: line)
            if !text.isEmpty { XCTAssertTrue(e.message.contains(text), "\(e)", file: file, line: line) }
        }
    }

    func test_defaults_apply_when_the_block_is_absent() throws {
        let s = try ConsulSettings.parse(.null, path: path, context: context())
        XCTAssertEqual(s.address, "http://127.0.0.1:8500")
        XCTAssertEqual(s.token, .none)
        XCTAssertEqual(s.wait, .seconds(300))
        XCTAssertTrue(s.stale)
        XCTAssertFalse(s.cached)
        XCTAssertEqual(s.minRequestInterval, .milliseconds(100))
        XCTAssertEqual(s.maxLastContact, .seconds(10))
        XCTAssertFalse(s.tls.insecureSkipVerify)
        XCTAssertNil(s.datacenter)
    }

    func test_all_keys_parse() throws {
        let s = try parse(#"{"address":"https://consul.example:8501/","token":"abc","datacenter":"dc2","namespace":"ns","partition":"p","tls":{"server_name":"consul.example","insecure_skip_verify":true},"wait":"30s","stale":false,"cached":true,"min_request_interval":"250ms","max_last_contact":"2s"}"#)
        XCTAssertEqual(s.address, "https://consul.example:8501")
        XCTAssertEqual(s.token, .literal("abc"))
        XCTAssertEqual(s.datacenter, "dc2")
        XCTAssertEqual(s.tls.serverName, "consul.example")
        XCTAssertTrue(s.tls.insecureSkipVerify)
        XCTAssertEqual(s.wait, .seconds(30))
        XCTAssertFalse(s.stale)
        XCTAssertTrue(s.cached)
        XCTAssertEqual(s.minRequestInterval, .milliseconds(250))
        XCTAssertEqual(s.maxLastContact, .seconds(2))
    }

    func test_unknown_key_is_reported_with_its_path() {
        assertConfigError(#"{"adress":"http://x:8500"}"#, path: "providers.consul.adress", contains: "unknown key")
        assertConfigError(#"{"tls":{"ca":"x"}}"#, path: "providers.consul.tls.ca", contains: "unknown key")
    }

    func test_wrong_types_name_the_path() {
        assertConfigError(#"{"wait":300}"#, path: "providers.consul.wait")
        assertConfigError(#"{"stale":"yes"}"#, path: "providers.consul.stale")
        assertConfigError(#"{"tls":{"insecure_skip_verify":1}}"#, path: "providers.consul.tls.insecure_skip_verify")
        assertConfigError(#"{"wait":"20m"}"#, path: "providers.consul.wait", contains: "10m")
    }

    func test_address_must_be_an_http_or_https_url() {
        assertConfigError(#"{"address":"consul:8500"}"#, path: "providers.consul.address")
        assertConfigError(#"{"address":"http://consul:8500/v1"}"#, path: "providers.consul.address")
        assertConfigError(#"{}"#, path: "providers.consul.address (from CONSUL_HTTP_ADDR)", env: ["CONSUL_HTTP_ADDR": "unix:///tmp/consul.sock"])
    }

    func test_environment_fallbacks_apply() throws {
        let s = try parse("{}", env: ["CONSUL_HTTP_ADDR": "10.1.2.3:8501", "CONSUL_HTTP_SSL": "true", "CONSUL_HTTP_TOKEN": "envtok", "CONSUL_TLS_SERVER_NAME": "server.dc1.consul"])
        XCTAssertEqual(s.address, "https://10.1.2.3:8501")
        XCTAssertEqual(s.token, .literal("envtok"))
        XCTAssertEqual(s.tls.serverName, "server.dc1.consul")
        let explicit = try parse(#"{"address":"http://a:1","token":"cfg"}"#, env: ["CONSUL_HTTP_ADDR": "http://b:2", "CONSUL_HTTP_TOKEN": "env"])
        XCTAssertEqual(explicit.address, "http://a:1")
        XCTAssertEqual(explicit.token, .literal("cfg"))
    }

    func test_token_and_token_file_together_are_refused() {
        assertConfigError(#"{"token":"a","token_file":"/etc/hostname"}"#, path: "providers.consul.token_file")
    }

    func test_missing_token_file_is_reported() {
        assertConfigError(#"{"token_file":"/nonexistent/token"}"#, path: "providers.consul.token_file", contains: "cannot read")
    }

    func test_token_is_redacted_from_descriptions() throws {
        let s = try parse(#"{"token":"s3cr3t-token-value"}"#)
        XCTAssertFalse("\(s)".contains("s3cr3t-token-value"))
        XCTAssertFalse(String(reflecting: s.token).contains("s3cr3t-token-value"))
    }

    func source(_ service: String, _ options: String, path: String = "backends[0].sources[0]") throws -> ConsulSource {
        try ConsulSource.parse(SourceSpec(provider: "consul", service: service, options: try JSONValue.parse(options).objectValue ?? [:], path: path))
    }

    func test_source_options_parse() throws {
        let s = try source("web", #"{"tags":["v2"],"node_meta":{"rack":"a"},"filter":"Service.Meta.version == \"2\"","address":"tagged:lan"}"#)
        XCTAssertEqual(s.selector, .name("web"))
        XCTAssertEqual(s.params.tags, ["v2"])
        XCTAssertEqual(s.params.nodeMeta, ["rack:a"])
        XCTAssertEqual(s.params.filter, #"Service.Meta.version == "2""#)
        XCTAssertEqual(s.addressMode, .tagged("lan"))
        XCTAssertEqual(try source("prefix:web-", "{}").selector, .prefix("web-"))
        XCTAssertEqual(try source("tag:haproxy", "{}").selector, .tag("haproxy"))
        XCTAssertEqual(try source("web", #"{"address":"node"}"#).addressMode, .node)
    }

    func test_source_errors_name_the_source_path() {
        func check(_ service: String, _ options: String, _ expected: String) {
            XCTAssertThrowsError(try source(service, options)) { error in
                XCTAssertEqual((error as? ConfigError)?.path, expected, "\(error)")
            }
        }
        check("web", #"{"tagz":["v2"]}"#, "backends[0].sources[0].tagz")
        check("web", #"{"tags":"v2"}"#, "backends[0].sources[0].tags")
        check("web", #"{"tags":[1]}"#, "backends[0].sources[0].tags[0]")
        check("web", #"{"node_meta":{"rack":1}}"#, "backends[0].sources[0].node_meta.rack")
        check("web", #"{"address":"public"}"#, "backends[0].sources[0].address")
        check("prefix:", "{}", "backends[0].sources[0].service")
        check("a b", "{}", "backends[0].sources[0].service")
    }

    func test_factory_validates_sources_and_is_named_consul() throws {
        let f = ConsulProviderFactory()
        XCTAssertEqual(f.name, "consul")
        let ok = try f.makeProvider(config: .object([:]), path: path, sources: [SourceSpec(provider: "consul", service: "web", path: "b[0].sources[0]")], context: context())
        XCTAssertEqual(ok.name, "consul")
        XCTAssertEqual(ok.stalenessLimit, .seconds(300) + .milliseconds(18750) + .seconds(30))
        XCTAssertThrowsError(try f.makeProvider(config: .object([:]), path: path, sources: [SourceSpec(provider: "consul", service: "web", options: ["bogus": .bool(true)], path: "b[1].sources[0]")], context: context())) { error in
            XCTAssertEqual((error as? ConfigError)?.path, "b[1].sources[0].bogus")
        }
    }

    func test_connection_budget_defaults_to_16_and_is_validated() throws {
        let s = try parse("{}")
        XCTAssertEqual(s.maxConnections, 16)
        XCTAssertEqual(s.maxStreamsPerConnection, 250)
        XCTAssertEqual(s.watchMode, .auto)
        let t = try parse(#"{"max_connections": 4, "max_streams_per_connection": 100, "watch_mode": "feed"}"#)
        XCTAssertEqual(t.maxConnections, 4)
        XCTAssertEqual(t.maxStreamsPerConnection, 100)
        XCTAssertEqual(t.watchMode, .feed)
        assertConfigError(#"{"max_connections": 2}"#, path: "providers.consul.max_connections", contains: "from 3")
        assertConfigError(#"{"max_connections": "8"}"#, path: "providers.consul.max_connections")
        assertConfigError(#"{"watch_mode": "fast"}"#, path: "providers.consul.watch_mode", contains: "per_service")
    }
}
