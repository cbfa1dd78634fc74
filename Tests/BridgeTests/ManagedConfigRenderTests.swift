import Bridge
import DiscoveryCore
import Foundation
import StateStore
import TestSupport
import XCTest

/// What the managed file says for each kind of slot, that HAProxy accepts it, and that `render` prints exactly it.
final class ManagedConfigRenderTests: XCTestCase {
    var dir: TemporaryDirectory!

    override func setUp() async throws { dir = try TemporaryDirectory(prefix: "db-render") }
    override func tearDown() async throws { dir.remove() }

    static let fixture = "\(repositoryRoot)/Tests/Fixtures/state-v1-before-managed-config.json"

    func configJSON(stateFile: String, managed: String, extra: String = "") -> String {
        """
        { "haproxy": { "runtime_api": "unix:\(dir.file("none.sock"))", "managed_config": "\(managed)"\(extra) },
          "state_file": "\(stateFile)", "providers": { "file": { "path": "none.json" } },
          "backends": [
            { "name": "web", "slots": 4, "server_options": "check inter 2s", "sources": [{ "provider": "file", "service": "web" }],
              "growth": { "mode": "add_server", "increment": 2 } },
            { "name": "api", "slots": 2, "server_prefix": "srv", "server_options": "", "sources": [{ "provider": "file", "service": "api" }] }
          ] }
        """
    }

    func loadConfig(_ text: String) throws -> BridgeConfig {
        try ConfigLoader.parse(try JSONValue.parse(bytes: Array(text.utf8)), factories: ["file"], configDirectory: dir.path)
    }

    static let expectedFromFixture = """
    backend web
        balance roundrobin
        server slot1 10.0.0.1:8080 check inter 2s weight 10
        server slot2 [fd00::2]:8081 check inter 2s weight 3 disabled
        server slot3 127.0.0.1:9 check inter 2s disabled
        server slot4 127.0.0.1:9 check inter 2s disabled
        server slot5 10.0.0.5:8080 check inter 2s weight 1
        server slot6 127.0.0.1:9 check inter 2s disabled

    backend api
        balance roundrobin
        server srv1 127.0.0.1:9 disabled
        server srv2 127.0.0.1:9 disabled

    """

    func test_a_state_file_from_the_previous_version_loads_and_renders_every_slot() throws {
        let doc = try XCTUnwrap(try StateStore(path: Self.fixture).load())
        XCTAssertEqual(doc.backends["web"]?.slots.count, 6)
        XCTAssertEqual(doc.guardHolds["api"]?.reason, "empty answer")
        let config = try loadConfig(configJSON(stateFile: Self.fixture, managed: dir.file("managed.cfg")))
        let text = ManagedConfigRenderer.render(config, tables: doc.backends)
        // Active and growth slots at their instance, draining at its instance but disabled, free at the placeholder
        // (a free slot's stale address and weight are not carried); slots the config adds but the table lacks: free.
        XCTAssertTrue(text.hasSuffix(Self.expectedFromFixture), text)
        XCTAssertNoThrow(try ManagedConfigValidator.validate(text, expected: ["web": 6, "api": 2]))
    }

    func test_render_prints_exactly_the_managed_file_from_the_state_file() async throws {
        let state = dir.file("state.json")
        try FileManager.default.copyItem(atPath: Self.fixture, toPath: state)
        try dir.write("config.json", configJSON(stateFile: state, managed: dir.file("managed.cfg")))
        let r = try await runCommand(bridgeExecutable, ["render", "--config", dir.file("config.json")])
        XCTAssertEqual(r.status, 0, r.stderr)
        let config = try loadConfig(configJSON(stateFile: state, managed: dir.file("managed.cfg")))
        let doc = try XCTUnwrap(try StateStore(path: state).load())
        XCTAssertEqual(r.stdout, ManagedConfigRenderer.render(config, tables: doc.backends))
    }

    func test_the_managed_file_passes_haproxy_check_together_with_haproxy_cfg_only() async throws {
        let haproxy = try XCTUnwrap(which("haproxy"))
        let doc = try XCTUnwrap(try StateStore(path: Self.fixture).load())
        let config = try loadConfig(configJSON(stateFile: Self.fixture, managed: dir.file("managed.cfg")))
        try dir.write("managed.cfg", ManagedConfigRenderer.render(config, tables: doc.backends))
        let port = try FreePort.allocate()
        try dir.write("haproxy.cfg", """
        defaults
            mode http
            timeout connect 1s
            timeout client 10s
            timeout server 10s
        frontend fe
            bind 127.0.0.1:\(port)
            use_backend api if { path_beg /api }
            default_backend web

        """)
        let alone = try await runCommand(haproxy, ["-c", "-q", "-f", dir.file("managed.cfg")])
        XCTAssertNotEqual(alone.status, 0, "a backends-only file has no listener: why check_command names haproxy.cfg too")
        let both = try await runCommand(haproxy, ["-c", "-f", dir.file("haproxy.cfg"), "-f", dir.file("managed.cfg")])
        XCTAssertEqual(both.status, 0, both.stdout + both.stderr)
    }

    func test_the_structural_check_names_the_line_at_fault() {
        let base = "backend web\n    balance roundrobin\n    server slot1 10.0.0.1:80 weight 1\n"
        let cases: [(String, String)] = [
            (base + "    server slot1 10.0.0.2:80\n", "line 4: server web/slot1 appears twice"),
            ("backend web\n    server slot1 10.0.0.300:80\n", "line 2: server slot1: \"10.0.0.300\" is not an IP address"),
            ("backend web\n    server slot1 10.0.0.1:0\n", "no port between 1 and 65535"),
            ("backend web\n    server slot1 10.0.0.1:80 weight 300\n", "weight must be 0...256"),
            ("backend web\n    server slot1 10.0.0.1:80\n    server slot2 10.0.0.1:81\n", "backend web has 2 server lines, expected 1"),
            ("backend other\n", "backend other is not one the bridge manages"),
            ("global\n    daemon\n", "line 1: expected \"backend NAME\""),
            ("backend web\n    http-request deny\n", "unexpected keyword \"http-request\""),
            ("", "backend web is missing"),
        ]
        for (text, message) in cases {
            XCTAssertThrowsError(try ManagedConfigValidator.validate(text, expected: ["web": 1]), text) { error in
                XCTAssertTrue("\(error)".contains(message), "\(error) should contain \(message)")
            }
        }
        XCTAssertNoThrow(try ManagedConfigValidator.validate(base, expected: ["web": 1]))
    }

    func test_check_command_must_name_the_candidate_and_needs_a_managed_file() throws {
        let bad = configJSON(stateFile: "s.json", managed: "m.cfg", extra: #", "check_command": ["haproxy", "-c", "-f", "/etc/haproxy/haproxy.cfg"]"#)
        XCTAssertThrowsError(try loadConfig(bad)) { XCTAssertTrue("\($0)".contains("haproxy.check_command"), "\($0)") }
        let good = try loadConfig(configJSON(stateFile: "s.json", managed: "m.cfg", extra: #", "check_command": ["haproxy", "-c", "-f", "{file}"], "master_cli": "unix:/run/haproxy-master.sock""#))
        XCTAssertEqual(good.haproxy.managedConfig, dir.file("m.cfg"), "relative to the config's folder")
        XCTAssertEqual(good.haproxy.checkCommand, ["haproxy", "-c", "-f", "{file}"])
        XCTAssertEqual(good.haproxy.masterCLI, .unix(path: "/run/haproxy-master.sock"))
    }
}
