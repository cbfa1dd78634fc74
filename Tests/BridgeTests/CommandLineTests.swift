import DiscoveryCore
import Foundation
import StateStore
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The `discovery-bridge` executable as operators and systemd use it.
final class CommandLineTests: XCTestCase {
    var dir: TemporaryDirectory!
    var haproxy: HAProxyInstance?
    var bridge: BridgeProcess?
    var http: HTTPBackends?

    override func setUp() async throws { dir = try TemporaryDirectory(prefix: "db-cli") }

    override func tearDown() async throws {
        bridge?.stop()
        haproxy?.cleanup()
        http?.stop()
        dir.remove()
    }

    func config(socket: String, backends: [String] = ["web"], extra: String = "", provider: String = "") -> String {
        let list = backends.map { name in
            """
            { "name": "\(name)", "slots": 3, "port": 8080, "server_options": "",
              "sources": [{ "provider": "file", "service": "\(name)" }], "drain_timeout": "1s" }
            """
        }
        return """
        {
          "haproxy": { "runtime_api": "unix:\(socket)", "restart_check_interval": "200ms" },
          "state_file": "\(dir.file("state.json"))",
          "providers": { "file": { "path": "\(dir.file("instances.json"))"\(provider) } },
          "guard": { "max_removed_fraction": 1.0, "min_servers": 0 },
          "backends": [\(list.joined(separator: ","))]\(extra)
        }
        """
    }

    func writeInstances(_ services: [String: [Int]]) throws {
        let body = services.sorted { $0.key < $1.key }.map { name, ports in
            "\"\(name)\": [" + ports.enumerated().map { "{\"id\": \"\(name)-\($0.offset + 1)\", \"address\": \"127.0.0.1\", \"port\": \($0.element)}" }.joined(separator: ",") + "]"
        }.joined(separator: ",")
        try "{\"services\": {\(body)}}".write(toFile: dir.file("instances.json.tmp"), atomically: false, encoding: .utf8)
        rename(dir.file("instances.json.tmp"), dir.file("instances.json"))
    }

    func readyCount(_ backend: String) async throws -> Int {
        try await haproxy?.readyEndpoints(backend).count ?? 0
    }

    // MARK: validate, render, plan, status

    func test_validate_accepts_the_sample_config() async throws {
        let r = try await runCommand(bridgeExecutable, ["validate", "--config", "\(repositoryRoot)/config.sample.json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("valid"), r.stdout)
    }

    func test_a_bad_config_exits_78_naming_the_json_path() async throws {
        let cases: [(String, String)] = [
            (#""slots": 3,"#, ""),
            (#""slots": "ten","#, #"backends[0].slots: expected a positive integer, got "ten""#),
            (#""slots": 3, "colour": "red","#, "backends[0].colour: unknown key"),
            (#""slots": 3, "health": "green","#, "backends[0].health"),
        ]
        for (slotsText, expected) in cases {
            var text = config(socket: "/tmp/x.sock").replacingOccurrences(of: #""slots": 3,"#, with: slotsText)
            if expected.isEmpty { text = text.replacingOccurrences(of: #""provider": "file""#, with: #""provider": "consul""#) }
            try text.write(toFile: dir.file("bad.json"), atomically: true, encoding: .utf8)
            let r = try await runCommand(bridgeExecutable, ["validate", "--config", dir.file("bad.json")])
            XCTAssertEqual(r.status, 78, "\(slotsText): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(expected.isEmpty ? "backends[0].sources[0]" : expected), "expected \(expected) in: \(r.stderr)")
        }
        let missing = try await runCommand(bridgeExecutable, ["validate", "--config", dir.file("nope.json")])
        XCTAssertEqual(missing.status, 78)
        XCTAssertTrue(missing.stderr.contains("nope.json"), missing.stderr)
        let run = try await runCommand(bridgeExecutable, ["run", "--config", dir.file("bad.json")])
        XCTAssertEqual(run.status, 78, "run refuses a bad config too")
    }

    func test_render_prints_backends_haproxy_accepts() async throws {
        try config(socket: dir.file("api.sock"), backends: ["web", "api"]).write(toFile: dir.file("config.json"), atomically: true, encoding: .utf8)
        let r = try await runCommand(bridgeExecutable, ["render", "--config", dir.file("config.json")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("server-template slot 1-3 127.0.0.1:9 disabled"), r.stdout)
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 3), .init(name: "api", slots: 3)], backendsConfig: r.stdout)
        haproxy = h
        let servers = try await h.servers("api")
        XCTAssertEqual(servers.keys.sorted(), ["slot1", "slot2", "slot3"])
    }

    func test_plan_prints_the_exact_commands_and_sends_nothing() async throws {
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 3)])
        haproxy = h
        try config(socket: h.socketPath).write(toFile: dir.file("config.json"), atomically: true, encoding: .utf8)
        try writeInstances(["web": [18500, 18501]])
        let r = try await runCommand(bridgeExecutable, ["plan", "--config", dir.file("config.json"), "--wait", "5s"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("set server web/slot1 addr 127.0.0.1 port 18500"), r.stdout)
        XCTAssertTrue(r.stdout.contains("set server web/slot2 state ready"), r.stdout)
        XCTAssertTrue(r.stdout.contains("nothing was sent"), r.stdout)
        let ready = try await h.readyEndpoints("web")
        XCTAssertTrue(ready.isEmpty, "plan must not change HAProxy")
    }

    // MARK: run under signals and systemd

    func test_sigterm_finishes_and_writes_the_state_and_status_shows_it() async throws {
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 3)])
        haproxy = h
        try config(socket: h.socketPath).write(toFile: dir.file("config.json"), atomically: true, encoding: .utf8)
        try writeInstances(["web": [18500, 18501]])
        let b = try BridgeProcess(config: dir.file("config.json"), logPath: dir.file("bridge.log"))
        bridge = b
        try await eventually("two ready", timeout: .seconds(10)) { try await self.readyCount("web") == 2 }
        try? FileManager.default.removeItem(atPath: dir.file("state.json"))
        try writeInstances(["web": [18500, 18501, 18502]])
        try await eventually("three ready") { try await self.readyCount("web") == 3 }
        b.child.signal(SIGTERM)
        let status = await b.child.waitForExit(timeout: .seconds(5))
        XCTAssertEqual(status, 0, b.log)
        let doc = try XCTUnwrap(try StateStore(path: dir.file("state.json")).load(), "state written at shutdown")
        XCTAssertEqual(doc.backends["web"]?.slots.filter { $0.state == .active }.count, 3)
        XCTAssertTrue(b.log.contains("stopped; state written"), b.log)

        let s = try await runCommand(bridgeExecutable, ["status", "--config", dir.file("config.json")])
        XCTAssertEqual(s.status, 0, s.stderr)
        XCTAssertTrue(s.stdout.contains("file/web-3"), s.stdout)
        XCTAssertTrue(s.stdout.contains("127.0.0.1:18502"), s.stdout)
        let j = try await runCommand(bridgeExecutable, ["status", "--config", dir.file("config.json"), "--json"])
        let json = try JSONValue.parse(j.stdout)
        XCTAssertEqual(json["slots"]?.arrayValue?.count, 3)
        let row = try XCTUnwrap(json["slots"]?.arrayValue?.first { $0["instance"]?.stringValue == "file/web-3" }, j.stdout)
        XCTAssertEqual(row["backend"]?.stringValue, "web")
        XCTAssertEqual(row["address"]?.stringValue, "127.0.0.1")
        XCTAssertEqual(row["port"]?.intValue, 18502)
        XCTAssertEqual(row["state"]?.stringValue, "active")
        XCTAssertNotNil(json["haproxy_reachable"]?.boolValue)
        XCTAssertNotNil(json["guard_holds"]?.objectValue)
    }

    func test_sighup_applies_a_valid_config_and_rejects_an_invalid_one() async throws {
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 3), .init(name: "api", slots: 3)])
        haproxy = h
        try config(socket: h.socketPath).write(toFile: dir.file("config.json"), atomically: true, encoding: .utf8)
        try writeInstances(["web": [18500, 18501], "api": [18600]])
        let b = try BridgeProcess(config: dir.file("config.json"), logPath: dir.file("bridge.log"))
        bridge = b
        try await eventually("web ready", timeout: .seconds(10)) { try await self.readyCount("web") == 2 }
        let webBefore = try await h.servers("web")

        try config(socket: h.socketPath, backends: ["web", "api"]).write(toFile: dir.file("config.json"), atomically: true, encoding: .utf8)
        b.child.signal(SIGHUP)
        try await eventually("api applied after reload") { try await self.readyCount("api") == 1 }
        let webAfter = try await h.servers("web")
        XCTAssertEqual(webAfter.mapValues { "\($0.address):\($0.port):\($0.adminState)" }, webBefore.mapValues { "\($0.address):\($0.port):\($0.adminState)" },
                       "unchanged slots are not touched")

        try #"{"backends": "#.write(toFile: dir.file("config.json"), atomically: true, encoding: .utf8)
        b.child.signal(SIGHUP)
        try await eventually("rejection logged") { b.log.contains("config reload rejected") }
        XCTAssertTrue(b.child.isRunning)
        try writeInstances(["web": [18500, 18501, 18502], "api": [18600]])
        try await eventually("old config still running") { try await self.readyCount("web") == 3 }
    }

    func test_systemd_gets_ready_status_and_a_watchdog_only_while_discovery_is_fresh() async throws {
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 3)])
        haproxy = h
        try config(socket: h.socketPath, provider: #", "poll_interval": "50ms", "stale_after": "600ms""#)
            .write(toFile: dir.file("config.json"), atomically: true, encoding: .utf8)
        try writeInstances(["web": [18500]])
        let notify = try NotifySocket(path: dir.file("notify.sock"))
        defer { notify.close() }
        let b = try BridgeProcess(config: dir.file("config.json"), logPath: dir.file("bridge.log"),
                                  environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "200000"])
        bridge = b
        try await eventually("READY=1", timeout: .seconds(10)) { notify.poll().contains { $0.contains("READY=1") } }
        let readyAtStart = try await readyCount("web")
        XCTAssertEqual(readyAtStart, 1, "READY comes after the first reconciliation")
        XCTAssertTrue(notify.poll().first { $0.contains("READY=1") }?.contains("STATUS=") ?? false)
        try await eventually("watchdog pings") { notify.poll().filter { $0.contains("WATCHDOG=1") }.count >= 3 }

        // The instances file disappears: the provider fails, and after stale_after the watchdog stops.
        try FileManager.default.removeItem(atPath: dir.file("instances.json"))
        try await eventually("stale status", timeout: .seconds(5)) { notify.poll().last?.contains("stale: file") == true }
        let staleFrom = notify.messages.count
        try await Task.sleep(for: .milliseconds(600))
        _ = notify.poll()
        XCTAssertFalse(notify.messages.dropFirst(staleFrom).contains { $0.text.contains("WATCHDOG=1") }, "no watchdog while stale")
        let readyWhileStale = try await readyCount("web")
        XCTAssertEqual(readyWhileStale, 1, "stale discovery removes nothing")

        try writeInstances(["web": [18500]])
        try await eventually("watchdog resumes", timeout: .seconds(5)) { notify.poll().last?.contains("WATCHDOG=1") == true }
        b.child.signal(SIGTERM)
        _ = await b.child.waitForExit(timeout: .seconds(5))
        XCTAssertTrue(notify.poll().contains { $0.contains("STOPPING=1") })
    }

    func test_metrics_healthz_and_status_match_the_slot_table() async throws {
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 3)])
        haproxy = h
        let port = try FreePort.allocate()
        try config(socket: h.socketPath, extra: ",\n  \"metrics\": {\"listen\": \"127.0.0.1:\(port)\"}")
            .write(toFile: dir.file("config.json"), atomically: true, encoding: .utf8)
        try writeInstances(["web": [18500, 18501]])
        let b = try BridgeProcess(config: dir.file("config.json"), logPath: dir.file("bridge.log"))
        bridge = b
        try await eventually("two ready", timeout: .seconds(10)) { try await self.readyCount("web") == 2 }
        try await eventually("metrics up") { (try? await httpGet("http://127.0.0.1:\(port)/healthz"))?.status == 200 }

        let text = try await httpGet("http://127.0.0.1:\(port)/metrics").body
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") {
            if line.hasPrefix("#") { continue }
            let parts = line.split(separator: " ")
            XCTAssertGreaterThanOrEqual(parts.count, 2, "not Prometheus text: \(line)")
            guard parts.count >= 2, let value = Double(parts[parts.count - 1]) else {
                XCTFail("unparsable sample: \(line)")
                continue
            }
            samples[normalizedSeries(parts.dropLast().joined(separator: " "))] = value
        }
        XCTAssertEqual(samples[#"discovery_bridge_slots{backend="web",state="used"}"#], 2, text)
        XCTAssertEqual(samples[#"discovery_bridge_slots{backend="web",state="free"}"#], 1)
        XCTAssertEqual(samples[#"discovery_bridge_slots{backend="web",state="total"}"#], 3)
        XCTAssertEqual(samples[#"discovery_bridge_instances_discovered{backend="web",provider="file",service="web"}"#], 2, text)
        XCTAssertEqual(samples["discovery_bridge_haproxy_synced"], 1)
        XCTAssertGreaterThanOrEqual(samples["discovery_bridge_runtime_commands_total"] ?? 0, 4, "addr + ready for each instance")
        XCTAssertTrue(text.contains("discovery_bridge_change_to_applied_seconds_bucket"), text)

        let status = try await httpGet("http://127.0.0.1:\(port)/status")
        XCTAssertEqual(status.status, 200)
        let json = try JSONValue.parse(status.body)
        XCTAssertNotNil(json.objectValue, status.body)
        XCTAssertTrue(status.body.contains("file/web-2"), status.body)
        let rows = json["backends"]?["web"]?["slots"]?.arrayValue ?? []
        XCTAssertEqual(rows.count, 3, status.body)
        let used = rows.filter { $0["state"]?.stringValue == "active" }
        XCTAssertEqual(used.count, 2, status.body)
        XCTAssertEqual(used.first?["backend"]?.stringValue, "web")
        XCTAssertEqual(used.first?["address"]?.stringValue, "127.0.0.1")
        XCTAssertNotNil(used.first?["port"]?.intValue)
        XCTAssertEqual(json["fresh"]?.boolValue, true, status.body)
    }
}

/// `name{b="2",a="1"}` → `name{a="1",b="2"}`, so label order does not matter.
func normalizedSeries(_ series: String) -> String {
    guard let open = series.firstIndex(of: "{"), series.hasSuffix("}") else { return series }
    let name = series[..<open]
    let body = series[series.index(after: open)..<series.index(before: series.endIndex)]
    return name + "{" + body.split(separator: ",").sorted().joined(separator: ",") + "}"
}

/// Secrets reach their servers and nothing else: not logs at any level, not `status`, not `/status`.
final class SecretsTests: XCTestCase {
    func test_no_secret_appears_in_any_log_line_or_status_output() async throws {
        let dir = try TemporaryDirectory(prefix: "db-secrets")
        defer { dir.remove() }
        let token = "tok-5f1e0c3a-93b7-4d0e-a1c2-SECRET"
        let awsKey = "AKIAEXAMPLESECRETKEY"
        let awsSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY"
        let consul = try ConsulFake(arguments: ["--acl-token", token])
        defer { consul.stop() }
        try await consul.register("web", id: "w1", node: "n1", nodeAddress: "10.9.0.1", port: 80)
        let moto = try Moto()
        defer { moto.stop() }
        _ = try moto.run(region: "us-east-1", tags: ["HAProxy:Service:Name": "api"], privateIP: "10.9.1.1")
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 2), .init(name: "api", slots: 2)])
        defer { h.cleanup() }
        let metricsPort = try FreePort.allocate()
        try """
        {
          "haproxy": { "runtime_api": "unix:\(h.socketPath)" },
          "state_file": "\(dir.file("state.json"))",
          "metrics": { "listen": "127.0.0.1:\(metricsPort)" },
          "providers": {
            "consul": { "address": "\(consul.address)", "token": "\(token)", "wait": "1s" },
            "ec2": { "regions": ["us-east-1"], "endpoint": "\(moto.endpoint)", "refresh_interval": "1s",
                     "credentials": { "access_key_id": "\(awsKey)", "secret_access_key": "\(awsSecret)" } }
          },
          "backends": [
            { "name": "web", "slots": 2, "port": 80, "server_options": "", "sources": [{ "provider": "consul", "service": "web" }] },
            { "name": "api", "slots": 2, "port": 81, "server_options": "", "sources": [{ "provider": "ec2", "service": "api" }] }
          ]
        }
        """.write(toFile: dir.file("config.json"), atomically: true, encoding: .utf8)
        let env = ["AWS_ACCESS_KEY_ID": awsKey, "AWS_SECRET_ACCESS_KEY": awsSecret, "AWS_SESSION_TOKEN": "session-\(awsSecret)", "CONSUL_HTTP_TOKEN": token]
        let bridge = try BridgeProcess(config: dir.file("config.json"), logPath: dir.file("bridge.log"), environment: env, logLevel: "trace")
        defer { bridge.stop() }
        try await eventually("instances applied", timeout: .seconds(15)) {
            let web = try await h.readyEndpoints("web")
            let api = try await h.readyEndpoints("api")
            return web.count == 1 && api == ["10.9.1.1:81"]
        }
        // Failures are where secrets leak most often: ACL errors and 500s echoing the request.
        try await consul.control("fail", ["count": .int(3), "status": .int(403), "body": .string("ACL not found for token \(token)")])
        try await Task.sleep(for: .milliseconds(1500))
        let status = try await runCommand(bridgeExecutable, ["status", "--config", dir.file("config.json"), "--json"], environment: env)
        let httpStatus = try await httpGet("http://127.0.0.1:\(metricsPort)/status")
        let metrics = try await httpGet("http://127.0.0.1:\(metricsPort)/metrics")
        bridge.child.signal(SIGTERM)
        _ = await bridge.child.waitForExit(timeout: .seconds(5))
        let state = (try? String(contentsOfFile: dir.file("state.json"), encoding: .utf8)) ?? ""
        let log = bridge.log
        XCTAssertGreaterThan(log.split(separator: "\n").count, 10, "trace logging produced lines")
        for secret in [token, awsKey, awsSecret] {
            for (name, text) in [("log", log), ("status", status.stdout + status.stderr), ("/status", httpStatus.body), ("/metrics", metrics.body), ("state", state)] {
                XCTAssertFalse(text.contains(secret), "\(name) contains a secret")
            }
        }
    }
}
