import Foundation
import HAProxyRuntime
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class RuntimeClientTests: XCTestCase {
    var haproxy: HAProxyInstance?

    override func tearDown() async throws {
        haproxy?.cleanup()
        haproxy = nil
    }

    func test_commands_are_applied_and_each_answer_checked() async throws {
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 3)])
        haproxy = h
        let client = RuntimeClient(endpoint: h.endpoint, timeout: .seconds(2))
        defer { client.close() }
        let outcomes = try await client.execute([
            "set server web/slot1 addr 127.0.0.2 port 8080",
            "set weight web/slot1 50",
            "set server web/slot1 state ready",
            "set weight web/slot1 300",
            "set server web/nope state ready",
            "set server web/slot2 addr not-an-ip port 80",
            "set server web/slot3 state drain",
        ])
        XCTAssertEqual(outcomes.map(\.succeeded), [true, true, true, false, false, false, true])
        XCTAssertEqual(outcomes[3].error, "Absolute weight can only be between 0 and 256 inclusive.")
        XCTAssertEqual(outcomes[4].error, "No such server.")
        XCTAssertTrue(outcomes[5].error?.hasPrefix("Invalid addr") ?? false, "\(outcomes[5])")
        let servers = try await h.servers("web")
        XCTAssertEqual(servers["slot1"]?.address, "127.0.0.2")
        XCTAssertEqual(servers["slot1"]?.port, 8080)
        XCTAssertEqual(servers["slot1"]?.userWeight, 50)
        XCTAssertEqual((servers["slot1"]?.adminState ?? 1) & 0x3B, 0)
        XCTAssertEqual((servers["slot3"]?.adminState ?? 0) & 0x08, 0x08)
    }

    func test_unsafe_lines_are_reported_and_never_sent() async throws {
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 2)])
        haproxy = h
        let client = RuntimeClient(endpoint: h.endpoint)
        defer { client.close() }
        let outcomes = try await client.execute(["set server web/slot1 state ready; set server web/slot2 state ready", "set server web/slot2 state drain"])
        XCTAssertFalse(outcomes[0].succeeded)
        XCTAssertTrue(outcomes[0].error?.contains("';'") ?? false)
        XCTAssertTrue(outcomes[1].succeeded)
        let servers = try await h.servers("web")
        XCTAssertNotEqual((servers["slot1"]?.adminState ?? 0) & 0x01, 0, "slot1 must still be in maintenance")
    }

    func test_thousands_of_commands_go_over_one_connection_at_socket_speed() async throws {
        let slots = 2000
        let h = try await HAProxyInstance(backends: [.init(name: "big", slots: slots)], withFrontends: false)
        haproxy = h
        let client = RuntimeClient(endpoint: h.endpoint, timeout: .seconds(5))
        defer { client.close() }
        var lines: [String] = []
        for n in 1...slots {
            lines.append("set server big/slot\(n) addr 10.\(n / 65536).\((n / 256) % 256).\(n % 256) port \(1000 + n)")
            lines.append("set server big/slot\(n) state ready")
        }
        _ = try await client.raw(["show info"])  // connect outside the measurement
        let start = ContinuousClock.now
        let outcomes = try await client.execute(lines)
        let elapsed = ContinuousClock.now - start
        XCTAssertEqual(outcomes.count, lines.count)
        XCTAssertTrue(outcomes.allSatisfy(\.succeeded), "\(outcomes.first { !$0.succeeded }.map { "\($0)" } ?? "")")
        let rows = try await h.servers("big")
        XCTAssertEqual(rows.values.filter { $0.adminState & 0x3B == 0 }.count, slots)
        XCTAssertEqual(rows["slot1500"]?.port, 2500)
        print("figure: \(lines.count) runtime commands over one connection in \(elapsed) (\(Int(Double(lines.count) / elapsed.seconds)) commands/s)")
    }

    func test_add_server_creates_a_dynamic_server_in_maintenance() async throws {
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 1)])
        haproxy = h
        let client = RuntimeClient(endpoint: h.endpoint)
        defer { client.close() }
        let outcomes = try await client.execute(["add server web/slot2 127.0.0.1:9 check", "add server web/slot2 127.0.0.1:9 check"])
        XCTAssertTrue(outcomes[0].succeeded)
        XCTAssertFalse(outcomes[1].succeeded, "a second add of the same name must be refused")
        let servers = try await h.servers("web")
        XCTAssertEqual((servers["slot2"]?.adminState ?? 0) & 0x01, 0x01)
    }

    func test_a_restarted_haproxy_is_reached_again_without_a_new_client() async throws {
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 1)])
        haproxy = h
        let client = RuntimeClient(endpoint: h.endpoint, timeout: .seconds(1))
        defer { client.close() }
        let before = try await client.showInfo()
        try await h.restart()
        let after = try await client.showInfo()
        XCTAssertNotEqual(before.pid, after.pid)
    }

    func test_an_idle_connection_closed_by_haproxy_is_replaced() async throws {
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 1)], statsTimeout: "200ms")
        haproxy = h
        let client = RuntimeClient(endpoint: h.endpoint, timeout: .seconds(1))
        defer { client.close() }
        _ = try await client.showInfo()
        try await Task.sleep(for: .milliseconds(500))
        let outcomes = try await client.execute(["set server web/slot1 state ready"])
        XCTAssertTrue(outcomes[0].succeeded)
    }

    func test_tcp_endpoint_works_like_the_unix_socket() async throws {
        let port = try FreePort.allocate()
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 1)], extraGlobal: "    stats socket ipv4@127.0.0.1:\(port) level admin")
        haproxy = h
        let client = RuntimeClient(endpoint: .tcp(host: "127.0.0.1", port: port))
        defer { client.close() }
        let rows = try await client.showServersState(backend: "web")
        XCTAssertEqual(rows.map(\.server), ["slot1"])
    }

    func test_missing_socket_is_a_connect_error() async throws {
        let client = RuntimeClient(endpoint: .unix(path: "/tmp/definitely-not-here-\(getpid()).sock"), timeout: .milliseconds(300))
        do {
            _ = try await client.raw(["show info"])
            XCTFail("expected an error")
        } catch {
            XCTAssertEqual(error.kind, .connect)
        }
    }

    func test_a_silent_peer_times_out_within_the_bound() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("silent.sock")
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        XCTAssertEqual(bound, 0)
        XCTAssertEqual(listen(fd, 4), 0)
        let client = RuntimeClient(endpoint: .unix(path: path), timeout: .milliseconds(200))
        let start = ContinuousClock.now
        do {
            _ = try await client.raw(["show info"])
            XCTFail("expected a timeout")
        } catch {
            XCTAssertEqual(error.kind, .timeout, "\(error)")
        }
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(2))
    }
}
