import EC2Provider
import Foundation
import HAProxyRuntime
import TestSupport

/// 7. EC2 events: SendMessage on moto's SQS → the instance drained (or ready) in HAProxy, against what polling alone
/// gives at the default `refresh_interval` (30 s). The provider refreshes every 5 minutes here, so only the events act.
enum EC2EventsBench {
    static let bench = "ec2events"

    static func run(_ options: Options, _ report: Report) async throws {
        let drains = options.quick ? 8 : 40
        let launches = options.quick ? 4 : 20
        let moto = try Moto()
        Cleanup.shared.add { moto.stop() }
        let queue = try await SQSQueue(moto: moto, name: "bench-events")
        defer { queue.close() }
        // Ports only tell instances apart (no health checks): nothing needs to listen on them.
        func launch(_ ports: Range<Int>) throws -> [String: Int] {
            let results = try moto.seed(ports.map {
                ["op": "run", "region": "us-east-1", "count": 1, "private_ip": "127.0.0.1", "tags": ["HAProxy:Service:Name": "web", "HAProxy:Service:Port": "\($0)"]]
            })
            var out: [String: Int] = [:]
            for (port, r) in zip(ports, results) { if let id = (r["ids"] as? [String])?.first { out[id] = port } }
            return out
        }
        // One more than drained: the guard never applies an empty backend without confirm_after.
        let initial = try launch(21_000..<(21_000 + drains + 1))
        let slots = drains + 1 + launches
        let haproxy = try await HAProxyInstance(backends: [.init(name: "web", slots: slots)], withFrontends: false)
        Cleanup.shared.add { haproxy.cleanup() }
        let bridge = try InProcessBridge(socketPath: haproxy.socketPath, body: """
        "providers": { "ec2": { "regions": ["us-east-1"], "endpoint": "\(moto.endpoint)", "refresh_interval": "5m",
                                "credentials": { "access_key_id": "AKIABENCH", "secret_access_key": "bench-secret" },
                                "events": { "queue_url": "\(queue.url)" } } },
        "guard": { "max_removed_fraction": 1.0, "min_servers": 0, "allow_empty": true },
        "backends": [{ "name": "web", "slots": \(slots), "port": 8080, "server_options": "", "drain_timeout": "1s",
                       "sources": [{ "provider": "ec2", "service": "web" }] }]
        """)
        try await bridge.start()
        let verify = RuntimeClient(endpoint: haproxy.endpoint, timeout: .seconds(5))
        defer { verify.close() }
        func rows() async throws -> [Int: Int] {
            var out: [Int: Int] = [:]
            for r in try await verify.showServersState(backend: "web") where r.address == "127.0.0.1" { out[r.port] = r.adminState }
            return out
        }
        try await eventually("initial instances ready", timeout: .seconds(60), every: .milliseconds(20)) {
            let r = try await rows()
            return initial.values.allSatisfy { (r[$0] ?? 0x01) & 0x3B == 0 }
        }

        var drained: [Double] = []
        for (id, port) in initial.sorted(by: { $0.key < $1.key }).prefix(drains) {
            let sent = ContinuousClock.now
            try await queue.send(AWSEventBody.stateChange(id, "stopping"))
            try await eventually("\(id) drained", timeout: .seconds(30), every: .milliseconds(1)) {
                // Gone from HAProxy counts as drained: a drain that ends at once sends the slot to the placeholder.
                (try await rows()[port] ?? 0x01) & 0x3B != 0
            }
            drained.append((ContinuousClock.now - sent).ms)
        }
        let fresh = try launch(22_000..<(22_000 + launches))
        var readied: [Double] = []
        for (id, port) in fresh.sorted(by: { $0.key < $1.key }) {
            let sent = ContinuousClock.now
            try await queue.send(AWSEventBody.stateChange(id, "running"))
            try await eventually("\(id) ready", timeout: .seconds(30), every: .milliseconds(1)) {
                let r = try await rows()
                return r[port].map { $0 & 0x3B == 0 } ?? false
            }
            readied.append((ContinuousClock.now - sent).ms)
        }
        await bridge.cleanup()

        // Polling alone: a change waits for the next refresh, at a uniform point of the ±10 % jittered 30 s interval,
        // then costs one refresh (DescribeInstances, measured here on the same moto) and the apply.
        let refreshCost = try bestRefresh(moto: moto)
        var rng = SystemRandomNumberGenerator()
        let waits = (0..<100_000).map { _ -> Double in
            let interval = Double.random(in: 27_000...33_000, using: &rng)
            return Double.random(in: 0...interval, using: &rng) + refreshCost
        }
        let poll = Summary(waits)
        let d = Summary(drained)
        let r = Summary(readied)
        report.atMost(bench, "stopping event → drained p99 (\(d.count) events)", d.p99, "ms", limit: 1000, note: "median \(fmt(d.median)) ms, max \(fmt(d.max)) ms; from SendMessage")
        report.add(bench, "poll only, refresh_interval 30s: change → drained p99", poll.p99, "ms", note: "median \(fmt(poll.median)) ms: uniform wait for the next refresh + \(fmt(refreshCost)) ms measured refresh; \(fmt(poll.p99 / max(d.p99, 0.001)))x the event path")
        report.atMost(bench, "running event → new instance ready p99 (\(r.count) events)", r.p99, "ms", limit: 2000, note: "median \(fmt(r.median)) ms; includes DescribeInstances for the id")
        report.add(bench, "poll only, refresh_interval 30s: launch → ready p99", poll.p99, "ms", note: "same wait as a drain")
    }

    /// The best of three signed DescribeInstances calls against moto (what one refresh costs before mapping).
    static func bestRefresh(moto: Moto) throws -> Double {
        var best = Double.infinity
        for _ in 0..<3 {
            let t0 = ContinuousClock.now
            _ = try runTool("curl", ["-sS", "--max-time", "60", "--aws-sigv4", "aws:amz:us-east-1:ec2", "--user", "AKIABENCH:x",
                                     "-H", "Content-Type: application/x-www-form-urlencoded; charset=utf-8",
                                     "--data", "Action=DescribeInstances&Version=2016-11-15&MaxResults=1000&Filter.1.Name=tag:HAProxy:Service:Name&Filter.1.Value.1=web",
                                     moto.endpoint + "/"], timeout: 70)
            best = min(best, (ContinuousClock.now - t0).ms)
        }
        return best
    }
}
