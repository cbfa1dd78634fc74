import Bridge
import DiscoveryCore
import Foundation
import TestSupport
import XCTest

/// The managed config (`haproxy.managed_config`) carries the same persistence lines as `render`, so a reload or restart
/// keeps address-keyed persistence.
final class ManagedPersistenceTests: XCTestCase {
    var dir: TemporaryDirectory!

    override func setUp() async throws { dir = try TemporaryDirectory(prefix: "db-managed-persist") }
    override func tearDown() async throws { dir.remove() }

    func config() throws -> BridgeConfig {
        try dir.write("cookie.key", "0123456789abcdef0123456789abcdef\n")
        let text = """
        { "haproxy": { "runtime_api": "unix:\(dir.file("none.sock"))" }, "state_file": "\(dir.file("state.json"))",
          "providers": { "file": { "path": "none.json" } },
          "backends": [
            { "name": "web", "slots": 2, "server_options": "", "sources": [{ "provider": "file", "service": "web" }],
              "persistence": { "mode": "source", "peers": "pair", "expire": "10m" } },
            { "name": "shop", "slots": 2, "server_options": "", "sources": [{ "provider": "file", "service": "web" }],
              "persistence": { "mode": "cookie", "cookie_key_file": "cookie.key" } },
            { "name": "plain", "slots": 1, "server_options": "", "sources": [{ "provider": "file", "service": "web" }] }
          ] }
        """
        return try ConfigLoader.parse(try JSONValue.parse(bytes: Array(text.utf8)), factories: ["file"], configDirectory: dir.path)
    }

    func test_the_managed_config_carries_the_same_persistence_lines_as_render() throws {
        let cfg = try config()
        let table = BackendSlots(backend: "web", slots: [
            Slot(server: "slot1", number: 1, state: .active, instanceID: "file/a", address: "10.0.0.1", port: 80), Slot(server: "slot2", number: 2),
        ])
        let managed = ManagedConfigRenderer.render(cfg, tables: ["web": table])
        let rendered = HAProxyConfigRenderer.render(cfg, source: "config.json")
        for text in [managed, rendered] {
            XCTAssertTrue(text.contains("backend web\n    balance roundrobin\n    stick-table type ip size 100k expire 10m srvkey addr peers pair\n    stick on src\n    server"), text)
            XCTAssertTrue(text.contains("backend shop\n    balance roundrobin\n    cookie SRVID insert indirect nocache dynamic\n    dynamic-cookie-key 0123456789abcdef0123456789abcdef\n    server"), text)
            XCTAssertTrue(text.contains("backend plain\n    balance roundrobin\n    server"), text)
        }
    }

    func test_haproxy_2_6_accepts_the_managed_backends_with_a_peers_section() async throws {
        let cfg = try config()
        let peerPort = try FreePort.allocate(), frontPort = try FreePort.allocate()
        try dir.write("main.cfg", """
        global
            stats socket \(dir.file("api.sock")) mode 600 level admin
        defaults
            mode http
            timeout connect 1s
            timeout client 5s
            timeout server 5s
        peers pair
            peer lb1 127.0.0.1:\(peerPort)
        frontend fe
            bind 127.0.0.1:\(frontPort)
            default_backend web

        """)
        try dir.write("managed.cfg", ManagedConfigRenderer.render(cfg, tables: [:]))
        let r = try await runCommand(which("haproxy") ?? "/usr/sbin/haproxy", ["-c", "-L", "lb1", "-f", dir.file("main.cfg"), "-f", dir.file("managed.cfg")])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
    }
}
