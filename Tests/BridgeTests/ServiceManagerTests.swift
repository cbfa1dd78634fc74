import DiscoveryCore
import Foundation
import StateStore
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The bridge under a service manager: stops cleanly whatever is configured, never blocks on systemd, and keeps its
/// watchdog honest across config reloads.
final class ServiceManagerTests: XCTestCase {
    var dir: TemporaryDirectory!
    var haproxy: HAProxyInstance?
    var bridge: BridgeProcess?
    var consul: ConsulFake?
    var notify: NotifySocket?

    override func setUp() async throws { dir = try TemporaryDirectory(prefix: "db-svc") }

    override func tearDown() async throws {
        bridge?.stop()
        consul?.stop()
        notify?.close()
        haproxy?.cleanup()
        dir.remove()
    }

    /// A config with the given providers block, backends and extra top-level keys.
    func writeConfig(socket: String, providers: String, backends: [(name: String, provider: String)], extra: String = "") throws {
        let list = backends.map { b in
            """
            { "name": "\(b.name)", "slots": 3, "port": 8080, "server_options": "", "sources": [{ "provider": "\(b.provider)", "service": "\(b.name)" }] }
            """
        }
        try """
        {
          "haproxy": { "runtime_api": "unix:\(socket)", "restart_check_interval": "200ms" },
          "state_file": "\(dir.file("state.json"))",
          "providers": { \(providers) },
          "guard": { "max_removed_fraction": 1.0, "min_servers": 0 },
          "backends": [\(list.joined(separator: ","))]\(extra)
        }
        """.write(toFile: dir.file("config.json"), atomically: true, encoding: .utf8)
    }

    var fileProvider: String { #""file": { "path": "\#(dir.file("instances.json"))", "poll_interval": "50ms", "stale_after": "1s" }"# }

    func writeInstances(_ service: String, ports: [Int]) throws {
        let items = ports.enumerated().map { "{\"id\": \"\(service)-\($0.offset + 1)\", \"address\": \"127.0.0.1\", \"port\": \($0.element)}" }
        try "{\"services\": {\"\(service)\": [\(items.joined(separator: ","))]}}".write(toFile: dir.file("instances.json.tmp"), atomically: false, encoding: .utf8)
        rename(dir.file("instances.json.tmp"), dir.file("instances.json"))
    }

    func startBridge(watchdogUsec: Int = 200_000) throws -> (BridgeProcess, NotifySocket) {
        let socket = try NotifySocket(path: dir.file("notify.sock"))
        notify = socket
        let b = try BridgeProcess(config: dir.file("config.json"), logPath: dir.file("bridge.log"),
                                  environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "\(watchdogUsec)"])
        bridge = b
        return (b, socket)
    }

    /// HAProxy with backends `web` and `api`, and a Consul fake where service `api` has one instance; returns the
    /// HAProxy and the providers-block entry for that Consul.
    func haproxyAndConsulServingAPI() async throws -> (HAProxyInstance, String) {
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 3), .init(name: "api", slots: 3)])
        haproxy = h
        let c = try ConsulFake()
        consul = c
        try await c.register("api", id: "a1", node: "n1", nodeAddress: "127.0.0.1", port: 18600)
        return (h, #""consul": { "address": "\#(c.address)", "wait": "1s" }"#)
    }

    func watchdogPings(_ socket: NotifySocket, since: Int) -> Int {
        _ = socket.poll()
        return socket.messages.dropFirst(since).filter { $0.text.contains("WATCHDOG=1") }.count
    }

    func test_sigterm_with_metrics_notify_and_watchdog_on_exits_0_within_2s() async throws {
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 3)])
        haproxy = h
        let port = try FreePort.allocate()
        try writeConfig(socket: h.socketPath, providers: fileProvider, backends: [("web", "file")],
                        extra: ",\n  \"metrics\": {\"listen\": \"127.0.0.1:\(port)\"}")
        try writeInstances("web", ports: [18500, 18501])
        let (b, socket) = try startBridge()
        try await eventually("READY=1", timeout: .seconds(10)) { socket.poll().contains { $0.contains("READY=1") } }
        try await eventually("metrics up") { (try? await httpGet("http://127.0.0.1:\(port)/healthz"))?.status == 200 }
        try await eventually("watchdog pings") { self.watchdogPings(socket, since: 0) >= 2 }

        let stopAt = ContinuousClock.now
        b.child.signal(SIGTERM)
        let status = await b.child.waitForExit(timeout: .seconds(2))
        XCTAssertEqual(status, 0, "systemd must see a clean stop, not a failure to restart:\n\(b.log)")
        XCTAssertLessThan(ContinuousClock.now - stopAt, .seconds(2))
        XCTAssertFalse(b.log.contains("Error:"), b.log)
        XCTAssertTrue(socket.poll().contains { $0.contains("STOPPING=1") })
        let doc = try XCTUnwrap(try StateStore(path: dir.file("state.json")).load(), "state written at shutdown")
        XCTAssertEqual(doc.backends["web"]?.slots.filter { $0.state == .active }.count, 2)
    }

    func test_sigterm_with_a_full_unread_notify_socket_exits_within_2s_and_counts_the_drops() async throws {
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 3)])
        haproxy = h
        let port = try FreePort.allocate()
        try writeConfig(socket: h.socketPath, providers: fileProvider, backends: [("web", "file")],
                        extra: ",\n  \"metrics\": {\"listen\": \"127.0.0.1:\(port)\"}")
        try writeInstances("web", ports: [18500])
        let socket = try NotifySocket(path: dir.file("notify.sock"))
        notify = socket
        let queued = try socket.fillQueue()
        XCTAssertGreaterThan(queued, 0)
        let b = try BridgeProcess(config: dir.file("config.json"), logPath: dir.file("bridge.log"),
                                  environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "100000"])
        bridge = b
        try await eventually("one ready", timeout: .seconds(10)) { try await h.readyEndpoints("web").count == 1 }
        try await eventually("drops counted", timeout: .seconds(5)) {
            let text = (try? await httpGet("http://127.0.0.1:\(port)/metrics"))?.body ?? ""
            return text.split(separator: "\n").contains { $0.hasPrefix("discovery_bridge_systemd_notifications_dropped_total ") && !$0.hasSuffix(" 0") }
        }
        // The daemon still answers while systemd does not read: a new instance is applied.
        try writeInstances("web", ports: [18500, 18501])
        try await eventually("two ready") { try await h.readyEndpoints("web").count == 2 }

        b.child.signal(SIGTERM)
        let status = await b.child.waitForExit(timeout: .seconds(2))
        XCTAssertEqual(status, 0, "a full notify socket must not wedge the shutdown:\n\(b.log)")
    }

    func test_sighup_removing_a_provider_keeps_the_watchdog_coming_past_twice_its_staleness_limit() async throws {
        let (h, consulProvider) = try await haproxyAndConsulServingAPI()
        try writeConfig(socket: h.socketPath, providers: fileProvider + ", " + consulProvider, backends: [("web", "file"), ("api", "consul")])
        try writeInstances("web", ports: [18500])
        let (b, socket) = try startBridge()
        try await eventually("READY=1", timeout: .seconds(10)) { socket.poll().contains { $0.contains("READY=1") } }
        try await eventually("both backends filled") {
            let web = try await h.readyEndpoints("web")
            let api = try await h.readyEndpoints("api")
            return web.count == 1 && api.count == 1
        }

        // The file provider (stale_after 1s) and its backend leave the config.
        try writeConfig(socket: h.socketPath, providers: consulProvider, backends: [("api", "consul")])
        b.child.signal(SIGHUP)
        try await eventually("reloaded") { b.log.contains("config reloaded") }
        let from = socket.messages.count
        try await Task.sleep(for: .milliseconds(2500))
        let pings = watchdogPings(socket, since: from)
        // WATCHDOG_USEC 200 ms: a ping every 100 ms, about 25 in 2.5 s; a loaded machine may lose some, not most.
        XCTAssertGreaterThanOrEqual(pings, 8, "the removed provider must not hold back the watchdog:\n\(b.log)")
        XCTAssertFalse(socket.messages.dropFirst(from).contains { $0.text.contains("stale:") }, "nothing is stale")
        XCTAssertFalse(b.log.contains("withholding the systemd watchdog"), b.log)
        XCTAssertTrue(b.child.isRunning)
    }

    func test_sighup_adding_a_provider_and_a_backend_fills_it_and_judges_the_provider_by_its_own_limit() async throws {
        let (h, consulProvider) = try await haproxyAndConsulServingAPI()
        try writeConfig(socket: h.socketPath, providers: consulProvider, backends: [("api", "consul")])
        let (b, socket) = try startBridge()
        try await eventually("READY=1", timeout: .seconds(10)) { socket.poll().contains { $0.contains("READY=1") } }
        try await eventually("api filled") { try await h.readyEndpoints("api").count == 1 }

        try writeInstances("web", ports: [18500, 18501])
        try writeConfig(socket: h.socketPath, providers: consulProvider + ", " + fileProvider, backends: [("api", "consul"), ("web", "file")])
        b.child.signal(SIGHUP)
        try await eventually("the added backend is filled by the added provider", timeout: .seconds(5)) {
            try await h.readyEndpoints("web").count == 2
        }
        let api = try await h.readyEndpoints("api")
        XCTAssertEqual(api.count, 1, "the kept backend is untouched")

        // The added file provider's own stale_after (1s), not a default, decides when discovery is stale.
        try FileManager.default.removeItem(atPath: dir.file("instances.json"))
        try await eventually("stale by the file provider's own limit", timeout: .seconds(4)) {
            socket.poll().last?.contains("stale: file") == true
        }
    }
}
