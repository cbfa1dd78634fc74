import DiscoveryCore
import Foundation
import StateStore
import TestSupport
import XCTest

/// Two HAProxies joined by a `peers` section, each with its own bridge: persistence holds across the pair even when the
/// bridges put the same instances in different slots.
final class HAPairTests: XCTestCase {
    var hosts: [PairHost] = []
    var http: HTTPBackends?
    var dirs: [TemporaryDirectory] = []

    static let backends = ["web_source", "web_cookie", "web_none"]

    override func tearDown() async throws {
        if (testRun?.totalFailureCount ?? 0) > 0 {
            for h in hosts {
                print("--- host \(h.name) haproxy.cfg:\n\((try? String(contentsOfFile: h.haproxy.configPath, encoding: .utf8)) ?? "")")
                print("--- host \(h.name) haproxy.log:\n\((try? String(contentsOfFile: h.haproxy.directory.file("haproxy.log"), encoding: .utf8)) ?? "")")
                print("--- host \(h.name) bridge.log (tail):\n\(h.bridge?.log.split(separator: "\n").suffix(15).joined(separator: "\n") ?? "")")
            }
        }
        for h in hosts { h.cleanup() }
        http?.stop()
        for d in dirs { d.remove() }
    }

    /// Three backends fed by one service: `source` and `cookie` persistence, and `none` (to which the test adds the
    /// name-keyed stick table an operator would write by hand).
    func backendsJSON(keyFile: String, slots: Int = 8, growth: String = "") -> String {
        let common = """
        "slots": \(slots), "server_options": "", "drain_timeout": "0s", "sources": [{"provider": "file", "service": "web"}]\(growth)
        """
        return """
        [{"name": "web_source", \(common), "persistence": {"mode": "source", "peers": "pair", "expire": "10m"}},
         {"name": "web_cookie", \(common), "persistence": {"mode": "cookie", "cookie_key_file": "\(keyFile)"}},
         {"name": "web_none", \(common), "persistence": {"mode": "none"}}]
        """
    }

    /// Renders the backends with `discovery-bridge render` and starts both hosts' HAProxies, joined as peers.
    func startPair(slots: Int = 8, growth: String = "") async throws -> (PairHost, PairHost) {
        let shared = try TemporaryDirectory(prefix: "db-pair")
        dirs.append(shared)
        try shared.write("cookie.key", "6f1c2a9be0d34b7c8e5f10a2b3c4d5e6\n")
        let json = backendsJSON(keyFile: shared.file("cookie.key"), slots: slots, growth: growth)
        try shared.write("render.json", PairHost.config(socketPath: "/run/haproxy/api.sock", dir: shared, metricsPort: 9105, backendsJSON: json))
        let r = try await runCommand(bridgeExecutable, ["render", "--config", shared.file("render.json")])
        guard r.status == 0 else { throw TestSupportError("render failed: \(r.stderr)") }
        XCTAssertTrue(r.stdout.contains("    stick-table type ip size 100k expire 10m srvkey addr peers pair\n    stick on src\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains("    cookie SRVID insert indirect nocache dynamic\n    dynamic-cookie-key 6f1c2a9be0d34b7c8e5f10a2b3c4d5e6\n"), r.stdout)
        let marker = "backend web_none\n    balance roundrobin\n"
        XCTAssertTrue(r.stdout.contains(marker), r.stdout)
        let rendered = r.stdout.replacingOccurrences(of: marker, with: marker + "    stick-table type ip size 100k expire 10m peers pair\n    stick on src\n")
        let pa = try FreePort.allocate(), pb = try FreePort.allocate()
        let peers = "peers pair\n    peer hostA 127.0.0.1:\(pa)\n    peer hostB 127.0.0.1:\(pb)\n\n"
        var made: [PairHost] = []
        for (name, peer) in [("A", "hostA"), ("B", "hostB")] {
            let dir = try TemporaryDirectory(prefix: "db-pair\(name)")
            dirs.append(dir)
            let host = try await PairHost(name: name, peerName: peer, backendNames: Self.backends, dir: dir, metricsPort: try FreePort.allocate(),
                                          backendsJSON: json, haproxyBackends: peers + rendered)
            made.append(host)
            hosts.append(host)
        }
        return (made[0], made[1])
    }

    func frontend(_ host: PairHost, _ backend: String) throws -> Int {
        guard let port = host.haproxy.frontendPorts[backend] else { throw TestSupportError("no frontend for \(backend)") }
        return port
    }

    func test_sessions_stuck_through_host_a_reach_the_same_instance_through_host_b_though_their_slots_differ() async throws {
        let servers = try await HTTPBackends(count: 7)
        http = servers
        let p = servers.ports
        let dead = [try FreePort.allocate(), try FreePort.allocate()]
        let (a, b) = try await startPair()

        // Host A's bridge lives through churn: i1 and i2 come and go before i7 and i8 arrive.
        try a.writeInstances([("i1", dead[0]), ("i2", dead[1]), ("i3", p[0]), ("i4", p[1]), ("i5", p[2]), ("i6", p[3])])
        try a.startBridge()
        try await a.waitServing(dead + p[0...3], backends: Self.backends)
        try a.writeInstances([("i3", p[0]), ("i4", p[1]), ("i5", p[2]), ("i6", p[3])])
        try await a.waitServing(Array(p[0...3]), backends: Self.backends)
        let final: [(id: String, port: Int)] = [("i3", p[0]), ("i4", p[1]), ("i5", p[2]), ("i6", p[3]), ("i7", p[4]), ("i8", p[5])]
        try a.writeInstances(final)
        try await a.waitServing(Array(p[0...5]), backends: Self.backends)
        // Host B's bridge starts later and only ever sees the final set.
        try b.writeInstances(final)
        try b.startBridge()
        try await b.waitServing(Array(p[0...5]), backends: Self.backends)

        let slotsA = try await a.slotPorts("web_source"), slotsB = try await b.slotPorts("web_source")
        XCTAssertEqual(slotsA.filter { slotsB[$0.key] == $0.value }.count, 0, "precondition: no slot serves the same instance on both hosts: A \(slotsA) B \(slotsB)")

        // status --compare sees the disagreement, from B's state file and from B's /status.
        for other in [b.statePath, b.statusURL] {
            try await eventually("status --compare \(other) lists the 18 differing slots", timeout: .seconds(10), every: .milliseconds(200)) {
                let r = try await runCommand(bridgeExecutable, ["status", "--config", a.configPath, "--compare", other])
                return r.status == 1 && r.stdout.split(separator: "\n").filter { $0.hasPrefix("web_") }.count == 18
            }
        }

        // source: 40 clients stuck through A.
        let clients = (2...41).map { "127.0.0.\($0)" }
        var stuck: [String: Int] = [:]
        for c in clients { stuck[c] = try await PairRequest.send(port: try frontend(a, "web_source"), from: c).port }
        XCTAssertEqual(stuck.values.count, 40)
        XCTAssertGreaterThan(Set(stuck.values).count, 3, "round robin spread the clients: \(stuck)")
        try await eventually("B holds the 40 entries synced from A", timeout: .seconds(20), every: .milliseconds(100)) {
            try await b.stickEntries("web_source") >= 40
        }
        var same = 0
        for c in clients where try await PairRequest.send(port: try frontend(b, "web_source"), from: c).port == stuck[c] { same += 1 }
        XCTAssertEqual(same, 40, "clients stuck through A that reach the same instance through B (srvkey addr)")

        // none, with the operator's own name-keyed stick table: the mismatch this issue prevents.
        var stuckByName: [String: Int] = [:]
        for c in clients { stuckByName[c] = try await PairRequest.send(port: try frontend(a, "web_none"), from: c).port }
        try await eventually("B holds the 40 name-keyed entries", timeout: .seconds(20), every: .milliseconds(100)) {
            try await b.stickEntries("web_none") >= 40
        }
        var sameByName = 0
        for c in clients where try await PairRequest.send(port: try frontend(b, "web_none"), from: c).port == stuckByName[c] { sameByName += 1 }
        XCTAssertEqual(sameByName, 0, "keyed by slot name, no client reaches its instance through B (every slot differs)")
        print("HA pair: source \(same)/40 across hosts, name-keyed \(sameByName)/40")

        // cookie: a cookie set by A reaches the same instance through B.
        var cookies: [String: Int] = [:]
        for _ in 0..<18 {
            let r = try await PairRequest.send(port: try frontend(a, "web_cookie"))
            if let cookie = r.setCookie, let port = r.port { cookies[cookie] = port }
        }
        XCTAssertEqual(Set(cookies.values), Set(p[0...5]), "one dynamic cookie per instance: \(cookies)")
        for (cookie, port) in cookies {
            let r = try await PairRequest.send(port: try frontend(b, "web_cookie"), cookie: cookie)
            XCTAssertEqual(r.port, port, "\(cookie) through B")
        }

        // i3 and i7 leave; i3 comes back under a new id at its old address. On A the lowest free slot is i7's, so the
        // address moves from one slot to another (before placeholders, the old slot kept it in maint).
        let remaining = final.filter { $0.id != "i3" && $0.id != "i7" }
        for h in [a, b] { try h.writeInstances(remaining) }
        for h in [a, b] { try await h.waitServing(remaining.map(\.port), backends: Self.backends) }
        let oldSlotA = slotsA.first { $0.value == p[0] }?.key
        let back = remaining + [("x3", p[0])]
        for h in [a, b] { try h.writeInstances(back) }
        for h in [a, b] { try await h.waitServing(back.map(\.port), backends: Self.backends) }
        let newSlotA = try await a.slotPorts("web_source").first { $0.value == p[0] }?.key
        XCTAssertNotEqual(newSlotA, oldSlotA, "on A, \(p[0]) moved from \(oldSlotA ?? "-") to \(newSlotA ?? "-")")

        // i4 and i5 swap addresses: each address moves to the other's slot on both hosts.
        let swapped = back.map { i -> (id: String, port: Int) in i.id == "i4" ? (i.id, p[2]) : i.id == "i5" ? (i.id, p[1]) : i }
        for h in [a, b] { try h.writeInstances(swapped) }
        for h in [a, b] {
            try await eventually("\(h.name) applied the swap", timeout: .seconds(20), every: .milliseconds(100)) {
                let i4 = try await h.servedPort("web_source", instance: "file/i4")
                let i5 = try await h.servedPort("web_cookie", instance: "file/i5")
                return i4 == p[2] && i5 == p[1]
            }
        }

        // Every client whose instance is still there reaches it through both hosts, by address or by cookie.
        var stillSame = 0, expected = 0
        for c in clients where stuck[c] != p[4] {
            expected += 1
            let viaA = try await PairRequest.send(port: try frontend(a, "web_source"), from: c).port
            let viaB = try await PairRequest.send(port: try frontend(b, "web_source"), from: c).port
            if viaA == stuck[c] && viaB == stuck[c] { stillSame += 1 }
        }
        XCTAssertEqual(stillSame, expected, "after re-registration, a slot move and a swap: clients on the same instance through A and B")
        for (cookie, port) in cookies where port != p[4] {
            let viaA = try await PairRequest.send(port: try frontend(a, "web_cookie"), cookie: cookie).port
            let viaB = try await PairRequest.send(port: try frontend(b, "web_cookie"), cookie: cookie).port
            XCTAssertEqual(viaA, port, "\(cookie) through A")
            XCTAssertEqual(viaB, port, "\(cookie) through B")
        }
        print("HA pair after re-registration, move and swap: source \(stillSame)/\(expected), cookies \(cookies.count - 1)")
        for h in [a, b] {
            XCTAssertFalse(h.bridge?.log.contains("msg=\"slot repaired\"") ?? true, "\(h.name): placeholders and ordered moves never look like drift")
        }
    }

    func test_two_bridges_started_together_have_identical_tables_after_1000_random_changes() async throws {
        let (a, b) = try await startPair(slots: 8, growth: #", "growth": {"mode": "add_server", "increment": 2, "max_slots": 30}"#)
        let ports = try (0..<40).map { _ in try FreePort.allocate() }
        var rng = SplitMix64(seed: 1313)
        var instances: [String: (port: Int, weight: Int)] = ["n0": (ports[0], 1)]
        func snapshot() -> [(id: String, port: Int)] { instances.sorted { $0.key < $1.key }.map { ($0.key, $0.value.port) } }
        for h in [a, b] { try h.writeInstances(snapshot()) }
        for h in [a, b] { try h.startBridge() }
        var changes = 0
        while changes < 1000 {
            for _ in 0..<25 {
                let used = Set(instances.values.map(\.port))
                let freePort = ports.filter { !used.contains($0) }.randomElement(using: &rng)
                let id = "n\(rng.int(0...27))"
                switch rng.int(0...99) {
                case 0..<50 where instances[id] == nil:
                    if let port = freePort { instances[id] = (port, 1) }
                case 0..<70 where instances.count > 1:
                    instances.removeValue(forKey: instances.keys.sorted()[rng.int(0...(instances.count - 1))])
                case 0..<90:
                    if let key = instances.keys.sorted().randomElement(using: &rng), let port = freePort { instances[key]?.port = port }
                default:
                    if let key = instances.keys.sorted().randomElement(using: &rng) { instances[key]?.weight = rng.int(1...5) }
                }
                changes += 1
            }
            // Both bridges see every snapshot: the next one is written once both have applied this one.
            for h in [a, b] { try h.writeInstances(snapshot()) }
            for h in [a, b] { try await h.waitServing(snapshot().map(\.port), backends: Self.backends) }
        }
        try await eventually("status --compare agrees with B's state file", timeout: .seconds(10), every: .milliseconds(200)) {
            try await runCommand(bridgeExecutable, ["status", "--config", a.configPath, "--compare", b.statePath]).status == 0
        }
        let byURL = try await runCommand(bridgeExecutable, ["status", "--config", a.configPath, "--compare", b.statusURL])
        XCTAssertEqual(byURL.status, 0, byURL.stdout + byURL.stderr)
        let tableA = try XCTUnwrap(StateStore(path: a.statePath).load()).backends, tableB = try XCTUnwrap(StateStore(path: b.statePath).load()).backends
        for backend in Self.backends {
            let rows = { (t: [String: BackendSlots]) in (t[backend]?.slots ?? []).map { "\($0.server) \($0.state) \($0.instanceID ?? "-") \($0.endpoint ?? "-") w\($0.weight)" } }
            XCTAssertEqual(rows(tableA), rows(tableB), "\(backend): the same slot names, states, instances, endpoints")
        }
        let grown = tableA["web_source"]?.slots.filter(\.dynamic).count ?? 0
        print("HA pair: \(changes) random changes, tables identical on both hosts; \(grown) slot(s) added by growth")
        XCTAssertGreaterThan(grown, 0, "the history grew the backends")
    }

    func test_servers_added_by_growth_get_their_dynamic_cookie_on_both_hosts() async throws {
        let servers = try await HTTPBackends(count: 3)
        http = servers
        let p = servers.ports
        // One template slot: the second and third instances land on servers added at runtime.
        let (a, b) = try await startPair(slots: 1, growth: #", "growth": {"mode": "add_server", "increment": 1, "max_slots": 4}"#)
        for h in [a, b] {
            try h.writeInstances([("g1", p[0]), ("g2", p[1]), ("g3", p[2])])
            try h.startBridge()
        }
        for h in [a, b] { try await h.waitServing(p, backends: ["web_cookie"]) }
        var cookies: [String: Int] = [:]
        for _ in 0..<9 {
            let r = try await PairRequest.send(port: try frontend(a, "web_cookie"))
            XCTAssertNotEqual(r.setCookie, "SRVID=", "every server has a dynamic cookie, added ones too")
            if let cookie = r.setCookie, let port = r.port { cookies[cookie] = port }
        }
        XCTAssertEqual(Set(cookies.values), Set(p), "\(cookies)")
        for (cookie, port) in cookies {
            let viaB = try await PairRequest.send(port: try frontend(b, "web_cookie"), cookie: cookie).port
            XCTAssertEqual(viaB, port, "\(cookie) through B")
        }
    }
}
