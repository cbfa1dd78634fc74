import FileProvider
import Foundation
import HAProxyRuntime
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Benchmark 2: the consul-template way (render haproxy.cfg with real server lines, SIGUSR2 to the master) against the
/// bridge (server-template slots, the change through the file provider), on the same HAProxy shape: master-worker mode,
/// 500 backends × 20 servers. Measured: change → the frontend answers from the new server; and failed requests under a
/// constant load while changes are made.
enum ReloadComparison {
    static let bench = "reload"
    static let backends = 500
    static let perBackend = 20

    static func globalAndDefaults(_ socket: String) -> String {
        """
        global
            stats socket \(socket) mode 600 level admin
            stats timeout 30s
        defaults
            mode http
            timeout connect 1s
            timeout client 10s
            timeout server 10s

        """
    }

    static func run(_ options: Options, _ report: Report) async throws {
        let changesUnderLoad = options.quick ? 10 : 50
        // 15 changes a path: with 7, one slow poll of the frontend moved the Consul path's median by up to a third.
        let singles = options.quick ? 3 : 15
        let loadThreads = 3
        // Answered by HAProxy itself: a Python backend's ~1 ms a request would be most of the bridge's figure.
        let http = try await FixedAnswerBackends(count: 2)
        Cleanup.shared.add { http.stop() }
        let ports = http.ports
        let front = try FreePort.allocate()
        print("  be0 (behind frontend 127.0.0.1:\(front)) switches between backends on ports \(ports[0]) and \(ports[1]); be1…be\(backends - 1) hold \(perBackend) servers each; no health checks in either path")

        // The reload path.
        let reloadHAProxy = try MasterWorkerHAProxy(prefix: "db-bench-reload")
        @Sendable func render(_ port: Int) -> String {
            var cfg = globalAndDefaults(reloadHAProxy.socketPath)
            cfg += "frontend fe\n    bind 127.0.0.1:\(front)\n    default_backend be0\n"
            cfg += "backend be0\n    balance roundrobin\n    server app-\(port) 127.0.0.1:\(port)\n"
            cfg.reserveCapacity(backends * perBackend * 48)
            for b in 1..<backends {
                cfg += "backend be\(b)\n    balance roundrobin\n"
                for i in 0..<perBackend { cfg += "    server i\(i) \(syntheticAddress(b, i)):8080\n" }
            }
            return cfg
        }
        var current = ports[0]
        try reloadHAProxy.writeConfig(render(current))
        try await reloadHAProxy.start()
        _ = try await waitServing(front: front, port: current, since: .now)
        let reloadChange: @Sendable (Int) async throws -> ContinuousClock.Instant? = { port in
            try reloadHAProxy.writeConfig(render(port))
            reloadHAProxy.reload()
            return nil
        }
        let reloadTimes: [Double], reloadLoad: LoadResult
        do {
            reloadTimes = try await measureSingles("reload path", singles, front: front, ports: ports, current: &current, settle: .milliseconds(500), reloadChange).map(\.fromCall)
            reloadLoad = try await underLoad("reload path", changesUnderLoad, front: front, ports: ports, current: &current, threads: loadThreads, settle: .milliseconds(200), reloadChange)
        } catch {
            throw TestSupportError("\(error)\nHAProxy log (last lines):\n\(reloadHAProxy.logTail())")
        }
        reloadHAProxy.stop()

        // The bridge path: same shape, server-template slots, the change through the file provider.
        let slotHAProxy = try MasterWorkerHAProxy(prefix: "db-bench-slots")
        @Sendable func slotConfig(_ socket: String) -> String {
            var cfg = globalAndDefaults(socket)
            cfg += "frontend fe\n    bind 127.0.0.1:\(front)\n    default_backend be0\n"
            for b in 0..<backends {
                cfg += "backend be\(b)\n    balance roundrobin\n    server-template slot 1-\(perBackend) 127.0.0.1:9 disabled\n"
            }
            return cfg
        }
        try slotHAProxy.writeConfig(slotConfig(slotHAProxy.socketPath))
        try await slotHAProxy.start()
        let backendsJSON = (0..<backends).map { b in
            "{ \"name\": \"be\(b)\", \"slots\": \(perBackend), \"port\": 8080, \"server_options\": \"\", \"drain_timeout\": \"1s\", \"sources\": [{ \"provider\": \"file\", \"service\": \"svc\(b)\" }] }"
        }.joined(separator: ",\n")
        let bridge = try InProcessBridge(socketPath: slotHAProxy.socketPath, body: """
        "providers": { "file": { "path": "instances.json" } },
        "guard": { "max_removed_fraction": 1.0, "min_servers": 0 },
        "backends": [\(backendsJSON)]
        """)
        let others: [(String, [(id: String, address: String, port: Int, weight: Int?)])] = (1..<backends).map { b in
            ("svc\(b)", (0..<perBackend).map { (id: "i\($0)", address: syntheticAddress(b, $0), port: 8080, weight: nil as Int?) })
        }
        let instances: @Sendable (Int) -> String = { port in
            instancesJSON([("svc0", [(id: "app-\(port)", address: "127.0.0.1", port: port, weight: nil as Int?)])] + others)
        }
        try bridge.writeInstances(instances(current))
        try await bridge.start()
        _ = try await waitServing(front: front, port: current, since: .now, timeout: .seconds(60))
        // Changes start once the bridge's first full sync is acknowledged (be0 serves before the 30k-command batch ends).
        try await eventually("the bridge's first sync", timeout: .seconds(60), every: .milliseconds(5)) { bridge.firstSync.withLock { $0 } != nil }
        let bridgeChange: @Sendable (Int) async throws -> ContinuousClock.Instant? = { port in
            try bridge.writeInstances(instances(port))
            return nil
        }
        let appliedBefore = bridge.applyLatencies().count
        let bridgeTimes = try await measureSingles("bridge path", singles, front: front, ports: ports, current: &current, settle: .milliseconds(100), bridgeChange).map(\.fromCall)
        let parseTimes = try (0..<5).map { _ -> Double in
            let bytes = Array(instances(current).utf8)
            let t = ContinuousClock.now
            _ = try InstancesFile.parse(bytes, file: "instances.json")
            return (ContinuousClock.now - t).ms
        }
        let applied = bridge.applyLatencies().dropFirst(appliedBefore).map { $0 * 1000 }
        print("  bridge path, each change → serving: \(bridgeTimes.map { String(format: "%.1f", $0) }.joined(separator: ", ")) ms; reconciler change→ack: \(applied.map { String(format: "%.1f", $0) }.joined(separator: ", ")) ms")
        print("  reload path, each change → serving: \(reloadTimes.map { String(format: "%.1f", $0) }.joined(separator: ", ")) ms")
        if ProcessInfo.processInfo.environment["BENCH_DEBUG"] != nil {
            let lines = bridge.control?.executed.map(\.line) ?? []
            print("  DEBUG last commands:\n    " + lines.suffix(12).joined(separator: "\n    "))
            print("  DEBUG applyLatencies ms: \(bridge.applyLatencies().suffix(8).map { Int($0 * 1000) })")
        }
        let bridgeLoad = try await underLoad("bridge path", changesUnderLoad, front: front, ports: ports, current: &current, threads: loadThreads, settle: .milliseconds(100), bridgeChange)
        await bridge.cleanup()
        slotHAProxy.stop()

        // The bridge fed by Consul, as consul-template would be: be0's service comes from the Consul fake (the change
        // is one re-registration there), the other backends from the file. Only be0's watch answers, with one entry.
        let consul = try ConsulFake()
        Cleanup.shared.add { consul.stop() }
        let consulHAProxy = try MasterWorkerHAProxy(prefix: "db-bench-consul")
        try consulHAProxy.writeConfig(slotConfig(consulHAProxy.socketPath))
        try await consulHAProxy.start()
        try await consul.register("svc0", id: "app", node: "n1", nodeAddress: "127.0.0.1", port: current)
        let consulBackendsJSON = (0..<backends).map { b in
            let source = b == 0 ? "{ \"provider\": \"consul\", \"service\": \"svc0\" }" : "{ \"provider\": \"file\", \"service\": \"svc\(b)\" }"
            return "{ \"name\": \"be\(b)\", \"slots\": \(perBackend), \"port\": 8080, \"server_options\": \"\", \"drain_timeout\": \"1s\", \"sources\": [\(source)] }"
        }.joined(separator: ",\n")
        let consulBridge = try InProcessBridge(socketPath: consulHAProxy.socketPath, body: """
        "providers": { "file": { "path": "instances.json" }, "consul": { "address": "\(consul.address)", "min_request_interval": "1ms" } },
        "guard": { "max_removed_fraction": 1.0, "min_servers": 0 },
        "backends": [\(consulBackendsJSON)]
        """)
        try consulBridge.writeInstances(instancesJSON(others))
        try await consulBridge.start()
        _ = try await waitServing(front: front, port: current, since: .now, timeout: .seconds(60))
        try await eventually("the Consul-fed bridge's first sync", timeout: .seconds(60), every: .milliseconds(5)) { consulBridge.firstSync.withLock { $0 } != nil }
        let consulChange: @Sendable (Int) async throws -> ContinuousClock.Instant? = { port in
            try await consul.register("svc0", id: "app", node: "n1", nodeAddress: "127.0.0.1", port: port)
        }
        let consulAppliedBefore = consulBridge.applyLatencies().count
        let consulSingles = try await measureSingles("bridge via Consul", singles, front: front, ports: ports, current: &current, settle: .milliseconds(150), consulChange)
        let consulApplied = consulBridge.applyLatencies().dropFirst(consulAppliedBefore).map { $0 * 1000 }
        let consulTimes = consulSingles.map(\.fromEffect)
        let consulLoad = try await underLoad("bridge via Consul", changesUnderLoad, front: front, ports: ports, current: &current, threads: loadThreads, settle: .milliseconds(150), consulChange)
        print("  bridge via Consul, each change → serving, from the fake's commit: \(consulTimes.map { String(format: "%.2f", $0) }.joined(separator: ", ")) ms; from the test's control call: \(consulSingles.map { String(format: "%.2f", $0.fromCall) }.joined(separator: ", ")) ms; reconciler change→ack: \(consulApplied.map { String(format: "%.2f", $0) }.joined(separator: ", ")) ms")
        await consulBridge.cleanup()
        consulHAProxy.stop()
        consul.stop()

        let r = Summary(reloadTimes), b = Summary(bridgeTimes), p = Summary(parseTimes), a = Summary(applied)
        report.add(bench, "reload: change→serving (median of \(singles))", r.median, "ms", note: String(format: "render + SIGUSR2 + new worker; max %.1f ms", r.max))
        report.add(bench, "bridge: change→serving (median of \(singles))", b.median, "ms", note: String(format: "rewrite 10k-instance file + bridge; max %.1f ms", b.max))
        report.add(bench, "bridge: parsing the 10k-instance file (median)", p.median, "ms", note: "InstancesFile.parse, part of the bridge path")
        report.add(bench, "bridge: reconciler change→ack (median)", a.median, "ms", note: String(format: "post-batch hook, those changes (%d); max %.1f ms", a.count, a.max))
        let c = Summary(consulTimes), cc = Summary(consulSingles.map(\.fromCall))
        report.add(bench, "bridge via Consul: change→serving (median of \(singles))", c.median, "ms",
                   note: String(format: "from the fake's commit (the change in Consul) to the frontend answering from the new server; max %.2f ms; from the test's control call %.2f ms", c.max, cc.median))
        report.atLeast(bench, "speed-up reload / bridge via Consul (the consul-template case)", r.median / c.median, "x", limit: 100)
        report.add(bench, "speed-up reload / bridge via the 10k-instance file", r.median / b.median, "x")
        report.atMost(bench, "bridge via Consul: failed requests, \(changesUnderLoad) changes under load", Double(consulLoad.failed), "req", limit: 0,
                      note: "of \(consulLoad.total); \(consulLoad.breakdown)")
        report.add(bench, "reload: failed requests, \(changesUnderLoad) changes under load", Double(reloadLoad.failed), "req",
                   note: "of \(reloadLoad.total); \(reloadLoad.breakdown)")
        report.atMost(bench, "bridge: failed requests, \(changesUnderLoad) changes under load", Double(bridgeLoad.failed), "req", limit: 0,
                      note: "of \(bridgeLoad.total); \(bridgeLoad.breakdown)")
    }

    /// Polls the frontend (fresh connection per request) until it answers from `port`; returns ms since `since`.
    static func waitServing(front: Int, port: Int, since: ContinuousClock.Instant, timeout: Duration = .seconds(30), what: String = "") async throws -> Double {
        let marker = "(127.0.0.1:\(port))"
        let pause = benchPollPauseMicroseconds
        let ok = await onThread { () -> Bool in
            let deadline = since + timeout
            while ContinuousClock.now < deadline {
                if case let (.ok, body) = HTTPLoad.fetch(port: front, timeoutMs: 1000), body.contains(marker) { return true }
                if pause > 0 { usleep(pause) }
            }
            return false
        }
        guard ok else { throw TestSupportError("\(what): frontend did not answer from port \(port) within \(timeout)") }
        return (ContinuousClock.now - since).ms
    }

    /// One change, timed to the frontend answering from the new server: from the test's call, and from the moment
    /// the change took effect (the Consul fake's commit; the call itself for the other paths).
    struct Single {
        var fromCall: Double
        var fromEffect: Double
    }

    /// Makes `n` changes one after the other. `change` returns when its change took effect, when it knows (nil: at
    /// the call). The frontend is polled from the call on, so a change that is served before the call returns
    /// is timed as it happened.
    static func measureSingles(_ what: String, _ n: Int, front: Int, ports: [Int], current: inout Int, settle: Duration,
                               _ change: @Sendable (Int) async throws -> ContinuousClock.Instant?) async throws -> [Single] {
        var times: [Single] = []
        for _ in 0..<n {
            let next = current == ports[0] ? ports[1] : ports[0]
            let start = ContinuousClock.now
            async let served = waitServing(front: front, port: next, since: start, what: what)
            let effect = try await change(next) ?? start
            let fromCall = try await served
            times.append(Single(fromCall: fromCall, fromEffect: fromCall - (effect - start).ms))
            current = next
            try await Task.sleep(for: settle)
        }
        return times
    }

    struct LoadResult {
        var failed: Int
        var total: Int
        var breakdown: String
    }

    static func underLoad(_ what: String, _ n: Int, front: Int, ports: [Int], current: inout Int, threads: Int, settle: Duration,
                          _ change: @Sendable (Int) async throws -> ContinuousClock.Instant?) async throws -> LoadResult {
        let load = HTTPLoad(port: front, threads: threads, timeoutMs: 2000)
        Cleanup.shared.add { Task { await load.stop() } }
        try await Task.sleep(for: .milliseconds(300))
        do {
            _ = try await measureSingles(what + " under load", n, front: front, ports: ports, current: &current, settle: settle, change)
        } catch {
            await load.stop()
            throw error
        }
        try await Task.sleep(for: .milliseconds(300))
        await load.stop()
        let failed = load.failed
        return LoadResult(failed: failed, total: failed + load.ok, breakdown: load.breakdown)
    }
}
