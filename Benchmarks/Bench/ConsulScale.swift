import DiscoveryCore
import Foundation
import HAProxyRuntime
import TestSupport

/// Benchmark 6: Consul at scale, the connection budget against one connection per service (today's way before
/// issue 11, the Prometheus way), side by side: TCP connections, idle requests per minute, change latency.
///
/// Each run: N services (one instance and one check each) in the fake, N HAProxy backends of two slots, the
/// bridge in process. Fill = start → every backend has a ready server. A change = a second instance registers
/// (with its check) or deregisters; latency = the control call's start → `show servers state` shows it.
/// Connections are counted on the wire (`/proc/net/tcp`, established to the fake's port, sampled every 20 ms),
/// less the bench's own control connection.
enum ConsulScale {
    static let bench = "consulscale"

    struct Way {
        var label: String
        var providerJSON: String
        var fakeArguments: [String]
        var tls = false
        /// The blocking queries' `wait` in seconds: 5 makes the idle requests countable in a 10 s window.
        var waitSeconds = 5
        var wait: String { "\(waitSeconds)s" }
    }

    static func run(_ options: Options, _ report: Report) async throws {
        let sizes = options.quick ? [10, 200] : [10, 200, 2000]
        for n in sizes {
            let budget = Way(label: "budget (16 conns)", providerJSON: "", fakeArguments: [])
            // Today's way needs one connection per service: against a default agent (200) it is refused beyond 200,
            // so it runs against a fake without the limit to show its figures at all.
            let perService = Way(label: "one per service", providerJSON: #", "watch_mode": "per_service", "max_connections": \#(n + 4)"#,
                                 fakeArguments: ["--max-conns-per-client", "0"])
            for way in [budget, perService] {
                try await measure(n: n, way: way, changes: changes(options), report)
            }
        }
    }

    static func changes(_ options: Options) -> Int { options.quick ? 10 : 40 }

    /// The budget over h2 at 2,000 services (`--only consulscale` runs it too, unless `--quick`).
    static func runH2(_ options: Options, _ report: Report) async throws {
        if options.quick && !options.only.contains("consulscale-h2") {
            print("  skipped with --quick (ask for it with --only consulscale-h2)")
            return
        }
        // Over h2 the 2,000 services keep one stream each; with a 5 s wait they re-poll 400 times a second, which the
        // fake's HTTP/2 (pure Python, hypercorn, TLS) cannot serve on a shared 2-core machine (answers queue for
        // seconds; a Consul agent, in Go, does not notice). 60 s keeps it at about 33 a second.
        try await measure(n: 2000, way: Way(label: "budget over h2", providerJSON: "", fakeArguments: [], tls: true, waitSeconds: 60),
                          changes: changes(options), report)
    }

    static func measure(n: Int, way: Way, changes: Int, _ report: Report) async throws {
        let fake = try ConsulFake(arguments: way.fakeArguments, tls: way.tls, maxSeconds: 900)
        let fakeID = Cleanup.shared.add { fake.stop() }
        defer { Cleanup.shared.run(fakeID) }
        var instances: [JSONValue] = []
        for i in 0..<n {
            instances.append(.object([
                "service": .string("svc-\(i)"), "id": .string("svc-\(i)-1"), "node": .string("node-\(i % 50)"),
                "node_address": .string("10.200.0.\(i % 50 + 1)"), "address": .string(syntheticAddress(i, 0)), "port": .int(8080),
                "checks": .array([.object(["id": .string("service:svc-\(i)-1"), "status": .string("passing")])]),
            ]))
        }
        try await fake.control("register_many", ["instances": .array(instances)])
        let haproxy = try await HAProxyInstance(backends: (0..<n).map { .init(name: "b\($0)", slots: 2) }, withFrontends: false)
        let haproxyID = Cleanup.shared.add { haproxy.cleanup() }
        defer { Cleanup.shared.run(haproxyID) }
        let backends = (0..<n).map {
            #"{"name": "b\#($0)", "slots": 2, "port": 8080, "server_options": "", "drain_timeout": "100ms", "sources": [{"provider": "consul", "service": "svc-\#($0)"}]}"#
        }
        let tls = fake.certificate.map { #", "tls": {"ca_file": "\#($0)"}"# } ?? ""
        let bridge = try InProcessBridge(socketPath: haproxy.socketPath, body: """
        "providers": { "consul": { "address": "\(fake.address)", "wait": "\(way.wait)"\(tls)\(way.providerJSON) } },
        "guard": { "max_removed_fraction": 1.0, "min_servers": 0 },
        "backends": [\(backends.joined(separator: ",\n"))]
        """)
        let sampler = ConnectionSampler(port: fake.server.port)
        let samplerTask = Task { await sampler.run() }
        let poller = RuntimeClient(endpoint: haproxy.endpoint, timeout: .seconds(5))
        defer { poller.close() }
        func readyBackends() async throws -> Int {
            Set(try await poller.showServersState().filter { $0.adminState & 0x3B == 0 && $0.address != "127.0.0.1" }.map(\.backend)).count
        }

        let started = ContinuousClock.now
        try await bridge.start()
        while try await readyBackends() < n {
            if ContinuousClock.now - started > .seconds(120) { throw TestSupportError("\(n) services, \(way.label): not every backend filled within 120 s") }
            try await Task.sleep(for: .milliseconds(20))
        }
        let fill = ContinuousClock.now - started
        // Changes are measured in the steady state: right after the fill every per-service watch re-asks with its
        // index at once (2,000 new requests over h2), which the Python fake takes a few hundred ms to take in; the
        // first change used to land in that queue (247 ms, against at most 19 ms for the 79 after it).
        try await Task.sleep(for: .seconds(1))

        var latencies: [Double] = []
        // From the fake's acknowledgement of the write: the control call left out. (Over TLS the control call goes to
        // the fake's plain control listener, as a write to an agent would not queue behind the bridge's h2 streams.)
        var afterAck: [Double] = []
        var rng = SplitMix64(seed: UInt64(n))
        for k in 0..<changes {
            let i = Int(rng.next() % UInt64(n))
            let extra = "10.250.\(i / 250).\(i % 250)"
            try await Task.sleep(for: .milliseconds(120))
            var start = ContinuousClock.now
            try await fake.control("register", [
                "service": .string("svc-\(i)"), "id": .string("svc-\(i)-2"), "node": .string("node-\((i + 1) % 50)"),
                "node_address": .string("10.200.0.\((i + 1) % 50 + 1)"), "address": .string(extra), "port": .int(8080),
                "checks": .array([.object(["id": .string("service:svc-\(i)-2"), "status": .string("passing")])]),
            ])
            var acked = ContinuousClock.now
            try await waitServer(poller, backend: "b\(i)", endpoint: "\(extra):8080", present: true)
            latencies.append((ContinuousClock.now - start).ms)
            afterAck.append((ContinuousClock.now - acked).ms)
            try await Task.sleep(for: .milliseconds(120))
            start = ContinuousClock.now
            try await fake.control("deregister", ["service": .string("svc-\(i)"), "id": .string("svc-\(i)-2"), "node": .string("node-\((i + 1) % 50)")])
            acked = ContinuousClock.now
            try await waitServer(poller, backend: "b\(i)", endpoint: "\(extra):8080", present: false)
            latencies.append((ContinuousClock.now - start).ms)
            afterAck.append((ContinuousClock.now - acked).ms)
            _ = k
        }

        if ProcessInfo.processInfo.environment["BENCH_DEBUG"] != nil {
            print("  DEBUG \(n) \(way.label) after-ack ms in order: \(afterAck.map { String(format: "%.0f", $0) }.joined(separator: " "))")
        }
        // Idle: nothing changes for 10 s (two wait periods at 5 s); requests are counted by the fake. Over h2 each
        // service's stream asks once per wait: the window is one whole wait (and its jitter), so every stream is seen.
        try await fake.control("reset_stats")
        let idleWindow = way.tls ? (Double(way.waitSeconds) * 17 / 16).rounded(.up) : 10.0
        try await Task.sleep(for: .seconds(idleWindow))
        let idle = try await fake.stats().paths.filter { $0.key.hasPrefix("/v1/") }.values.reduce(0, +)
        let perMinute = Double(idle) / idleWindow * 60
        samplerTask.cancel()
        _ = await samplerTask.value
        // Over plain HTTP less the bench's control connection (over TLS it goes to the fake's plain control port);
        // the fake's own count (every accept) is exact too.
        let served = way.tls ? nil : try await fake.connections()
        let peak = max(0, max(sampler.peak, served?.peak ?? 0) - (way.tls ? 0 : 1))
        let refused = served?.refused ?? 0
        // The bridge's own count, where libcurl opens and closes its sockets (the wire count also sees the bench's).
        let own = bridge.assembly?.providers.health.providerMetrics.first { $0.name == "discovery_bridge_consul_connections_peak" }?.value
        await bridge.cleanup()

        let s = Summary(latencies)
        let label = "\(n) svc, \(way.label)"
        print("  \(label):")
        report.add(bench, "\(label): fill (start → every backend ready)", fill.ms, "ms")
        if way.label.hasPrefix("budget") {
            let limit = way.tls ? Double((n + 249) / 250) : 16
            report.atMost(bench, "\(label): peak TCP connections", Double(peak), "conns", limit: limit,
                          note: (way.tls ? "ceil(\(n) / 250 streams)" : "max_connections default") + "; the bridge counts \(own.map { String(Int($0)) } ?? "?")")
            report.atMost(bench, "\(label): change→HAProxy p99", s.p99, "ms", limit: 50, note: "\(s.count) changes, control call included; median \(fmt(s.median)) ms")
            let a = Summary(afterAck)
            report.add(bench, "\(label): write acknowledged→HAProxy p99", a.p99, "ms", note: "control call left out; median \(fmt(a.median)) ms")
        } else {
            report.add(bench, "\(label): peak TCP connections", Double(peak), "conns", note: "refused by a default agent beyond 200")
            report.add(bench, "\(label): change→HAProxy p99", s.p99, "ms", note: "\(s.count) changes; median \(fmt(s.median)) ms")
        }
        // Per service over h2, each stream asks once per wait: the README's trade-off (streams are cheap for an agent).
        let idleNote = way.tls ? "; one per service per wait (\(n) per \(way.wait)): the h2 trade-off" : ""
        report.add(bench, "\(label): idle requests per minute", perMinute, "req/min", note: "wait \(way.wait); counted over \(Int(idleWindow)) s\(idleNote)")
        if refused > 0 { report.add(bench, "\(label): connections refused", Double(refused), "conns") }
    }

    static func waitServer(_ poller: RuntimeClient, backend: String, endpoint: String, present: Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            let rows = try await poller.showServersState(backend: backend)
            let seen = rows.contains { $0.adminState & 0x3B == 0 && "\($0.address):\($0.port)" == endpoint }
            if seen == present { return }
        }
        throw TestSupportError("\(backend): \(endpoint) not \(present ? "ready" : "gone") within 15 s")
    }
}

/// Samples established TCP connections to a loopback port from `/proc/net/tcp` and keeps the peak.
final class ConnectionSampler: @unchecked Sendable {
    let port: Int
    private let lock = NSLock()
    private var _peak = 0
    var peak: Int { lock.withLock { _peak } }

    init(port: Int) { self.port = port }

    func run() async {
        while !Task.isCancelled {
            let n = Self.established(toPort: port)
            lock.withLock { _peak = max(_peak, n) }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Client-side sockets in state ESTABLISHED whose remote port is `port`.
    static func established(toPort port: Int) -> Int {
        let hexPort = String(format: ":%04X", port)
        var count = 0
        for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
            // /proc files report size 0: read to the end, not by the stat size.
            guard let handle = FileHandle(forReadingAtPath: file) else { continue }
            let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
            try? handle.close()
            for line in text.split(separator: "\n").dropFirst() {
                let f = line.split(separator: " ", omittingEmptySubsequences: true)
                guard f.count > 3, f[3] == "01", f[2].hasSuffix(hexPort) else { continue }
                count += 1
            }
        }
        return count
    }
}
