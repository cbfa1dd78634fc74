import DiscoveryCore
import Foundation
import TestSupport
import XCTest

final class ConfigLoaderTests: XCTestCase {
    /// A minimal valid document; `backend` and `root` entries are merged in (a null value removes the key).
    private func document(backend: [String: JSONValue] = [:], root: [String: JSONValue] = [:]) -> String {
        var b: [String: JSONValue] = [
            "name": .string("web"), "slots": .int(10),
            "sources": .array([.object(["provider": .string("file"), "service": .string("web")])]),
        ]
        for (k, v) in backend { b[k] = v == .null ? nil : v }
        var r: [String: JSONValue] = [
            "haproxy": .object(["runtime_api": .string("unix:/run/haproxy/api.sock")]),
            "providers": .object(["file": .object([:])]),
            "backends": .array([.object(b)]),
        ]
        for (k, v) in root { r[k] = v == .null ? nil : v }
        return JSONValue.object(r).serialized()
    }

    private func load(_ text: String, directory: String = "/etc/discovery-bridge") throws(ConfigError) -> LoadedConfig {
        try Fixtures.loader().load(bytes: Array(text.utf8), configDirectory: directory)
    }

    private func loadConfig(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> BridgeConfig? {
        do {
            return try load(text).config
        } catch {
            XCTFail("unexpected error: \(error)", file: file, line: line)
            return nil
        }
    }

    private func expectError(_ expected: String, _ text: String, file: StaticString = #filePath, line: UInt = #line) {
        assertConfigError(expected, file: file, line: line) { () throws(ConfigError) in _ = try load(text) }
    }

    private func expectBackendError(_ expected: String, _ backend: [String: JSONValue], file: StaticString = #filePath, line: UInt = #line) {
        expectError(expected, document(backend: backend), file: file, line: line)
    }

    // MARK: the sample

    func test_the_sample_config_loads() throws {
        let path = "\(repositoryRoot)/config.sample.json"
        let loaded = try Fixtures.loader().load(path: path)
        XCTAssertEqual(loaded.path, path)
        XCTAssertTrue(loaded.providers.map(\.name).contains("file"), "the sample grows with the providers; file is always there")
        let c = loaded.config
        XCTAssertEqual(c.haproxy.runtimeAPI, .unix(path: "/run/haproxy/api.sock"))
        XCTAssertEqual(c.haproxy.timeout, .seconds(2))
        XCTAssertEqual(c.stateFile, "/var/lib/discovery-bridge/state.json")
        XCTAssertEqual(c.logLevel, .info)
        XCTAssertEqual(c.coalesce, .zero, "adaptive")
        XCTAssertEqual(c.metrics.map { "\($0.host) \($0.port)" }, "127.0.0.1 9105")
        XCTAssertEqual(c.backends.count, 1)
        let web = try XCTUnwrap(c.backend(named: "web"))
        XCTAssertEqual(web.slots, 10)
        XCTAssertEqual(web.port, 8080)
        XCTAssertEqual(web.sources.first, SourceSpec(provider: "file", service: "web"))
        XCTAssertEqual(web.sources.first?.path, "backends[0].sources[0]")
        XCTAssertEqual(web.growth, GrowthPolicy(mode: .addServer, increment: 10, maxSlots: 1000))
        XCTAssertEqual(web.guardPolicy, GuardPolicy(maxRemovedFraction: 0.5, minServers: 1, confirmAfter: .seconds(30), allowEmpty: false))
        XCTAssertTrue(web.usesChecks)
    }

    func test_defaults_apply_when_keys_are_omitted() throws {
        let c = try XCTUnwrap(loadConfig(document()))
        XCTAssertEqual(c.haproxy, HAProxySettings(runtimeAPI: .unix(path: "/run/haproxy/api.sock")))
        XCTAssertEqual(c.haproxy.timeout, .milliseconds(2000))
        XCTAssertEqual(c.haproxy.resyncInterval, .seconds(10))
        XCTAssertEqual(c.haproxy.drainCheckInterval, .seconds(1))
        XCTAssertEqual(c.haproxy.restartCheckInterval, .seconds(1))
        XCTAssertEqual(c.stateFile, "/var/lib/discovery-bridge/state.json")
        XCTAssertNil(c.metrics)
        XCTAssertNil(c.logLevel)
        XCTAssertEqual(c.coalesce, .zero, "adaptive")
        XCTAssertEqual(c.guardPolicy, GuardPolicy())
        let b = try XCTUnwrap(c.backends.first)
        XCTAssertEqual(b.serverPrefix, "slot")
        XCTAssertNil(b.port)
        XCTAssertEqual(b.health, .passing)
        XCTAssertEqual(b.drainTimeout, .seconds(30))
        XCTAssertEqual(b.defaultWeight, 1)
        XCTAssertEqual(b.serverOptions, "check")
        XCTAssertEqual(b.growth, GrowthPolicy(mode: .none, increment: 10, maxSlots: 10_000))
        XCTAssertEqual(b.guardPolicy, GuardPolicy())
    }

    func test_null_counts_as_omitted() throws {
        let text = document().replacingOccurrences(of: "\"slots\":10", with: "\"slots\":10,\"port\":null,\"growth\":null")
        XCTAssertTrue(text.contains("\"port\":null"))
        XCTAssertNil(loadConfig(text)?.backends.first?.port)
    }

    func test_a_relative_state_file_resolves_against_the_config_folder() {
        XCTAssertEqual(loadConfig(document(root: ["state_file": .string("state.json")]))?.stateFile, "/etc/discovery-bridge/state.json")
        XCTAssertEqual(ConfigLoader.resolve("a.json", against: "."), "a.json")
        XCTAssertEqual(ConfigLoader.resolve("/abs.json", against: "/etc"), "/abs.json")
    }

    // MARK: errors name their JSON path

    func test_a_non_integer_slot_count_is_named_by_path_and_value() {
        expectBackendError(#"backends[0].slots: expected a positive integer, got "ten""#, ["slots": .string("ten")])
        expectBackendError("backends[0].slots: expected a positive integer, got 0", ["slots": .int(0)])
        expectBackendError("backends[0].slots: expected a positive integer, got 2.5", ["slots": .double(2.5)])
        expectBackendError("backends[0].slots: expected at most 100000 slots, got 100001", ["slots": .int(100_001)])
        expectBackendError("backends[0].slots: is required", ["slots": .null])
        XCTAssertEqual(loadConfig(document(backend: ["slots": .double(4)]))?.backends.first?.slots, 4)
    }

    func test_unknown_keys_are_reported_at_every_level() {
        expectError("colour: unknown key", document(root: ["colour": .string("blue")]))
        expectBackendError("backends[0].drain_timout: unknown key", ["drain_timout": .string("5s")])
        expectError("haproxy.timeout: unknown key", document(root: ["haproxy": .object(["runtime_api": .string("/run/a.sock"), "timeout": .int(1)])]))
        expectBackendError("backends[0].growth.step: unknown key", ["growth": .object(["step": .int(1)])])
        expectError("guard.max_removed: unknown key", document(root: ["guard": .object(["max_removed": .double(0.5)])]))
        expectError("metrics.port: unknown key", document(root: ["metrics": .object(["port": .int(9105)])]))
    }

    func test_wrong_types_are_reported_with_what_was_found() {
        expectBackendError("backends[0].name: expected a string, got 5", ["name": .int(5)])
        expectBackendError(#"backends[0].port: expected a port between 1 and 65535, got "8080""#, ["port": .string("8080")])
        expectBackendError("backends[0].port: expected a port between 1 and 65535, got 70000", ["port": .int(70000)])
        expectBackendError("backends[0].sources: expected an array, got an object", ["sources": .object([:])])
        expectBackendError("backends[0].sources[0]: expected an object, got \"file\"", ["sources": .array([.string("file")])])
        expectBackendError("backends[0].growth: expected an object, got true", ["growth": .bool(true)])
        expectBackendError("backends[0].default_weight: expected a weight between 0 and 256, got 300", ["default_weight": .int(300)])
        expectError("haproxy: expected an object, got an array", document(root: ["haproxy": .array([])]))
        expectError("expected an object, got an array", "[]")
        expectError("state_file: must not be empty", document(root: ["state_file": .string("")]))
        expectError("log_level: expected one of \"trace\", \"debug\", \"info\", \"notice\", \"warning\", \"error\", \"critical\", got \"verbose\"",
                    document(root: ["log_level": .string("verbose")]))
    }

    func test_required_parts_are_named() {
        expectError("haproxy: is required", document(root: ["haproxy": .null]))
        expectError("haproxy.runtime_api: is required", document(root: ["haproxy": .object([:])]))
        expectError("backends: is required", document(root: ["backends": .null]))
        expectError("backends: must list at least one backend", document(root: ["backends": .array([])]))
        expectBackendError("backends[0].sources: must list at least one source", ["sources": .array([])])
        expectBackendError("backends[0].sources[0].service: is required", ["sources": .array([.object(["provider": .string("file")])])])
        expectBackendError("backends[0].sources[0].service: must not be empty", ["sources": .array([.object(["provider": .string("file"), "service": .string("")])])])
    }

    func test_a_duplicate_backend_name_is_named_at_the_second_backend() throws {
        let one = try XCTUnwrap(JSONValue.parse(document())["backends"]?.arrayValue?.first)
        expectError(#"backends[1].name: duplicate backend "web""#, document(root: ["backends": .array([one, one])]))
    }

    func test_a_source_naming_an_unconfigured_provider_is_rejected() {
        expectBackendError(#"backends[0].sources[1].provider: provider "consul" is not configured under "providers""#, ["sources": .array([
            .object(["provider": .string("file"), "service": .string("web")]),
            .object(["provider": .string("consul"), "service": .string("web")]),
        ])])
    }

    func test_an_unknown_provider_block_lists_the_known_ones() {
        expectError("providers.etcd: unknown provider (known: consul, ec2, file)", document(root: ["providers": .object(["etcd": .object([:])])]))
        expectError("providers.file: expected an object, got \"yes\"", document(root: ["providers": .object(["file": .string("yes")])]))
    }

    func test_provider_factory_errors_surface_with_their_path() {
        let loader = Fixtures.loader([RejectingFactory(name: "file")])
        assertConfigError("providers.file.address: is required") { () throws(ConfigError) in
            _ = try loader.load(bytes: Array(document().utf8), configDirectory: ".")
        }
    }

    func test_extra_source_keys_become_provider_options_and_sources_are_shared_by_key() throws {
        let source: JSONValue = .object(["provider": .string("file"), "service": .string("web"), "tag": .string("blue")])
        let c = try XCTUnwrap(loadConfig(document(backend: ["sources": .array([source])])))
        XCTAssertEqual(c.backends.first?.sources.first?.options, ["tag": .string("blue")])
        XCTAssertEqual(c.backends.first?.sources.first?.key, #"file:web:{"tag":"blue"}"#)
    }

    func test_invalid_json_is_reported_with_line_and_column() {
        expectError("not valid JSON: line 2 column 3: expected ',' or '}' in an object", "{\"a\": 1\n  x}")
        expectError(#"not valid JSON: line 1 column 36: duplicate key "haproxy""#,
                    #"{"haproxy": {"runtime_api": "/a"}, "haproxy": {}}"#)
    }

    func test_an_unreadable_file_names_the_file() {
        // The reason's wording comes from Foundation and differs between platforms.
        do {
            _ = try Fixtures.loader().load(path: "/nonexistent/discovery.json")
            XCTFail("loaded a file that does not exist")
        } catch {
            XCTAssertEqual(error.file, "/nonexistent/discovery.json")
            XCTAssertEqual(error.path, "")
            XCTAssertTrue(error.description.hasPrefix("/nonexistent/discovery.json: cannot read the config file: "), error.description)
        }
    }

    func test_errors_inside_a_file_name_the_file_and_the_path() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("bad.json", document(backend: ["slots": .string("ten")]))
        assertConfigError("\(dir.file("bad.json")): backends[0].slots: expected a positive integer, got \"ten\"") { () throws(ConfigError) in
            _ = try Fixtures.loader().load(path: dir.file("bad.json"))
        }
    }

    // MARK: durations

    func test_durations_need_a_unit_and_may_not_be_negative() {
        let message = #"backends[0].drain_timeout: expected a duration such as "500ms", "30s" or "5m", got "#
        expectBackendError(message + #""30""#, ["drain_timeout": .string("30")])
        expectBackendError(message + #""-1s""#, ["drain_timeout": .string("-1s")])
        expectBackendError(message + "30", ["drain_timeout": .int(30)])
        expectBackendError(message + #""5 s""#, ["drain_timeout": .string("5 s")])
        expectBackendError(message + #""""#, ["drain_timeout": .string("")])
        XCTAssertEqual(loadConfig(document(backend: ["drain_timeout": .string("1m30s")]))?.backends.first?.drainTimeout, .seconds(90))
    }

    func test_duration_text_parses_and_formats() {
        XCTAssertEqual(DurationText.parse("250ms"), .milliseconds(250))
        XCTAssertEqual(DurationText.parse("30s"), .seconds(30))
        XCTAssertEqual(DurationText.parse("5m"), .seconds(300))
        XCTAssertEqual(DurationText.parse("1h"), .seconds(3600))
        XCTAssertEqual(DurationText.parse("1.5s"), .milliseconds(1500))
        XCTAssertEqual(DurationText.parse(" 1h2m3s "), .seconds(3723))
        XCTAssertEqual(DurationText.parse("0s"), .zero)
        for bad in ["", "s", "30", "-1s", "1x", "1e3s", "1..5s", "5M", "1s 2s", "ms5"] {
            XCTAssertNil(DurationText.parse(bad), bad)
        }
        XCTAssertEqual(DurationText.format(.milliseconds(1500)), "1500ms")
        XCTAssertEqual(DurationText.format(.seconds(90)), "90s")
        XCTAssertEqual(DurationText.format(.seconds(300)), "5m")
        XCTAssertEqual(DurationText.format(.seconds(7200)), "2h")
        XCTAssertEqual(DurationText.format(.zero), "0s")
        for text in ["250ms", "30s", "5m", "1h", "1500ms", "90s"] {
            XCTAssertEqual(DurationText.parse(text).map(DurationText.format), text)
        }
    }

    func test_intervals_have_lower_and_upper_bounds() {
        func haproxy(_ extra: [String: JSONValue]) -> String {
            var h: [String: JSONValue] = ["runtime_api": .string("/run/a.sock")]
            h.merge(extra) { $1 }
            return document(root: ["haproxy": .object(h)])
        }
        expectError("haproxy.resync_interval: must be at least 100ms", haproxy(["resync_interval": .string("99ms")]))
        expectError("haproxy.drain_check_interval: must be at least 50ms", haproxy(["drain_check_interval": .string("10ms")]))
        expectError("haproxy.restart_check_interval: must be at least 50ms", haproxy(["restart_check_interval": .string("0s")]))
        expectError("haproxy.timeout_ms: expected a timeout in milliseconds between 1 and 600000, got 0", haproxy(["timeout_ms": .int(0)]))
        expectError("coalesce: must be at most 5s", document(root: ["coalesce": .string("6s")]))
        expectError("coalesce: expected \"adaptive\" or a duration such as \"2ms\", got \"soon\"", document(root: ["coalesce": .string("soon")]))
        XCTAssertEqual(loadConfig(document(root: ["coalesce": .string("3ms")]))?.coalesce, .milliseconds(3), "an explicit duration keeps its meaning")
        XCTAssertEqual(loadConfig(haproxy(["timeout_ms": .int(500)]))?.haproxy.timeout, .milliseconds(500))
    }

    // MARK: runtime_api

    func test_runtime_api_forms() {
        func api(_ text: String) -> RuntimeEndpoint? {
            loadConfig(document(root: ["haproxy": .object(["runtime_api": .string(text)])]))?.haproxy.runtimeAPI
        }
        XCTAssertEqual(api("unix:/run/haproxy/api.sock"), .unix(path: "/run/haproxy/api.sock"))
        XCTAssertEqual(api("/run/haproxy/api.sock"), .unix(path: "/run/haproxy/api.sock"))
        XCTAssertEqual(api("tcp:127.0.0.1:9999"), .tcp(host: "127.0.0.1", port: 9999))
        XCTAssertEqual(api("tcp:[::1]:9999"), .tcp(host: "::1", port: 9999))
        XCTAssertEqual(api("tcp:localhost:9999"), .tcp(host: "localhost", port: 9999))
        XCTAssertEqual(RuntimeEndpoint.tcp(host: "::1", port: 9999).description, "tcp:[::1]:9999")
        XCTAssertEqual(RuntimeEndpoint.unix(path: "/a").description, "unix:/a")
    }

    func test_bad_runtime_api_values_are_rejected() {
        for bad in ["unix:", "tcp:127.0.0.1", "tcp::9999", "tcp:127.0.0.1:0", "tcp:127.0.0.1:65536", "tcp:127.0.0.1:http", "http://127.0.0.1:9999", "run/api.sock", ""] {
            expectError(#"haproxy.runtime_api: expected "unix:/path/to/socket" or "tcp:HOST:PORT", got ""# + bad + "\"",
                        document(root: ["haproxy": .object(["runtime_api": .string(bad)])]))
        }
        expectError("haproxy.runtime_api: expected a string, got 9999", document(root: ["haproxy": .object(["runtime_api": .int(9999)])]))
    }

    // MARK: backend values

    func test_health_values() {
        XCTAssertEqual(loadConfig(document(backend: ["health": .string("passing_or_warning")]))?.backends.first?.health, .passingOrWarning)
        XCTAssertEqual(loadConfig(document(backend: ["health": .string("any")]))?.backends.first?.health, .any)
        expectBackendError(#"backends[0].health: expected one of "passing", "passing_or_warning", "any", got "healthy""#, ["health": .string("healthy")])
    }

    func test_backend_and_prefix_names_must_be_haproxy_identifiers() {
        expectBackendError(#"backends[0].name: expected an HAProxy backend name (letters, digits, '-', '_', '.', ':'), got "my web""#, ["name": .string("my web")])
        expectBackendError(#"backends[0].server_prefix: expected an HAProxy server name prefix not ending in a digit, got "srv1""#, ["server_prefix": .string("srv1")])
        expectBackendError("backends[0].server_options: must not contain a newline or ';'", ["server_options": .string("check; shutdown")])
        XCTAssertEqual(loadConfig(document(backend: ["name": .string("be_web-1.v2:x")]))?.backends.first?.name, "be_web-1.v2:x")
    }

    func test_growth_settings_and_their_ranges() {
        let g = loadConfig(document(backend: ["growth": .object(["mode": .string("add_server"), "increment": .int(5), "max_slots": .int(50)])]))?.backends.first?.growth
        XCTAssertEqual(g, GrowthPolicy(mode: .addServer, increment: 5, maxSlots: 50))
        expectBackendError(#"backends[0].growth.mode: expected one of "none", "add_server", got "auto""#, ["growth": .object(["mode": .string("auto")])])
        expectBackendError("backends[0].growth.increment: expected an integer between 1 and 10000, got 0", ["growth": .object(["increment": .int(0)])])
        expectBackendError("backends[0].growth.max_slots: expected an integer between slots (10) and 100000, got 5", ["growth": .object(["max_slots": .int(5)])])
        XCTAssertEqual(loadConfig(document(backend: ["slots": .int(20_000)]))?.backends.first?.growth.maxSlots, 20_000)
    }

    func test_guard_ranges_and_backend_overrides_of_the_global_guard() throws {
        expectError("guard.max_removed_fraction: expected a fraction between 0 and 1, got 1.5", document(root: ["guard": .object(["max_removed_fraction": .double(1.5)])]))
        expectError("guard.min_servers: expected a non-negative integer, got -1", document(root: ["guard": .object(["min_servers": .int(-1)])]))
        expectError("guard.allow_empty: expected true or false, got \"yes\"", document(root: ["guard": .object(["allow_empty": .string("yes")])]))
        expectBackendError(#"backends[0].guard.confirm_after: expected a duration such as "500ms", "30s" or "5m", got "soon""#, ["guard": .object(["confirm_after": .string("soon")])])
        let c = try XCTUnwrap(loadConfig(document(
            backend: ["guard": .object(["max_removed_fraction": .int(1)])],
            root: ["guard": .object(["min_servers": .int(3), "confirm_after": .string("1m")])]
        )))
        XCTAssertEqual(c.guardPolicy, GuardPolicy(maxRemovedFraction: 0.5, minServers: 3, confirmAfter: .seconds(60)))
        XCTAssertEqual(c.backends.first?.guardPolicy, GuardPolicy(maxRemovedFraction: 1, minServers: 3, confirmAfter: .seconds(60)))
    }

    func test_metrics_listen_forms() {
        func listen(_ text: String) -> String? {
            loadConfig(document(root: ["metrics": .object(["listen": .string(text)])]))?.metrics.map { "\($0.host) \($0.port)" }
        }
        XCTAssertEqual(listen("127.0.0.1:9105"), "127.0.0.1 9105")
        XCTAssertEqual(listen("[::1]:9105"), "::1 9105")
        XCTAssertEqual(listen(":9105"), "0.0.0.0 9105")
        expectError(#"metrics.listen: expected "HOST:PORT" such as "127.0.0.1:9105", got "9105""#, document(root: ["metrics": .object(["listen": .string("9105")])]))
    }
}
