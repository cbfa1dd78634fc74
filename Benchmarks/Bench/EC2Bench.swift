import EC2Provider
import Foundation
import HAProxyRuntime
import TestSupport

/// 5. EC2: 5,000 tagged instances in moto_server, discovered, parsed and applied to HAProxy by the bridge;
/// requests per refresh counted by a forwarding proxy in front of moto.
enum EC2Bench {
    static let bench = "ec2"

    static func run(_ options: Options, _ report: Report) async throws {
        let total = options.quick ? 1000 : 5000
        let moto = try Moto()
        Cleanup.shared.add { moto.stop() }
        let seedStart = ContinuousClock.now
        let ids = try moto.run(region: "us-east-1", reservations: total / 10, count: 10,
                               tags: ["HAProxy:Service:Name": "web", "HAProxy:Service:Port": "8080"])
        guard ids.count == total else { throw TestSupportError("moto seeded \(ids.count) of \(total) instances") }
        print(String(format: "  seeded %d instances into moto in %.1f s (not measured)", total, (ContinuousClock.now - seedStart).ms / 1000))
        let proxy = try ReportingProcess(name: "ec2-proxy", executable: "python3", arguments: [fakesDirectory + "/fault_proxy.py", "\(moto.port)"])
        Cleanup.shared.add { proxy.stop() }
        let proxyURL = "http://127.0.0.1:\(try proxy.readPort())"

        let haproxy = try await HAProxyInstance(backends: [.init(name: "web", slots: total)], withFrontends: false)
        Cleanup.shared.add { haproxy.cleanup() }
        let bridge = try InProcessBridge(socketPath: haproxy.socketPath, body: """
        "providers": { "ec2": { "regions": ["us-east-1"], "endpoint": "\(proxyURL)", "refresh_interval": "10m", "timeout": "5m",
                                "credentials": { "access_key_id": "AKIABENCH", "secret_access_key": "bench-secret" } } },
        "backends": [{ "name": "web", "slots": \(total), "port": 8080, "server_options": "", "sources": [{ "provider": "ec2", "service": "web" }] }]
        """)
        let start = ContinuousClock.now
        try await bridge.start()
        do {
            try await discover(total: total, start: start, haproxy: haproxy, bridge: bridge, proxyURL: proxyURL, moto: moto, report)
        } catch {
            await bridge.cleanup()
            throw error
        }
    }

    static func discover(total: Int, start: ContinuousClock.Instant, haproxy: HAProxyInstance, bridge: InProcessBridge, proxyURL: String,
                         moto: Moto, _ report: Report) async throws {
        // Not the bridge's readiness: with moto slower than its 30 s grace, READY comes before the answer does.
        let verify = RuntimeClient(endpoint: haproxy.endpoint, timeout: .seconds(10))
        defer { verify.close() }
        // moto hands out private IPs at random, so a few of 5,000 instances can share one; the bridge serves an
        // endpoint once. Done when every instance is ready, or when at least 99 % are and nothing moved for 3 s.
        var ready = 0
        var lastChange = ContinuousClock.now
        var readyAt = ContinuousClock.now
        let deadline = start + .seconds(600)
        while ready < total {
            guard ContinuousClock.now < deadline else { throw TestSupportError("only \(ready) of \(total) EC2 instances ready in HAProxy after 600 s") }
            try await Task.sleep(for: .milliseconds(20))
            let now = try await verify.showServersState(backend: "web").filter { $0.adminState & 0x3B == 0 }.count
            if now != ready {
                ready = now
                lastChange = .now
                readyAt = .now
            } else if ready * 100 >= total * 99, ContinuousClock.now - lastChange > .seconds(3) {
                break
            }
        }
        let elapsed = (readyAt - start).ms
        if ready < total { print("  \(total - ready) instance(s) share a private IP with another in moto; each endpoint is served once") }
        let statsText = try runTool("curl", ["-sS", "--max-time", "10", proxyURL + "/__stats"], timeout: 15)
        let requests = (try JSONSerialization.jsonObject(with: Data(statsText.utf8)) as? [String: Any])?["requests"] as? Int ?? -1
        await bridge.cleanup()

        // Parse and map alone: the provider's share of the time above (moto's answer time is most of the rest).
        let body = try runTool("curl", ["-sS", "--max-time", "300", "--aws-sigv4", "aws:amz:us-east-1:ec2", "--user", "AKIABENCH:x",
                                        "-H", "Content-Type: application/x-www-form-urlencoded; charset=utf-8",
                                        "--data", "Action=DescribeInstances&Version=2016-11-15&MaxResults=1000", moto.endpoint + "/"], timeout: 320)
        let parse = try EC2ParseProbe.bestOf(3, body: Array(body.utf8))

        report.add(bench, "discover + parse + apply \(total) instances (moto → all ready)", elapsed, "ms", note: "\(ready) distinct endpoints; moto's own answer time dominates")
        report.add(bench, "DescribeInstances requests per refresh", Double(requests), "requests", note: "pages of up to 1000; one chain per region")
        report.add(bench, "parse + map of one DescribeInstances answer (best of 3)", parse.ms, "ms", note: "\(body.utf8.count / 1024) KiB of XML, \(parse.count) instances")
    }
}


/// Times the EC2 provider's XML parse and mapping on one page.
enum EC2ParseProbe {
    static func bestOf(_ n: Int, body: [UInt8]) throws -> (ms: Double, count: Int) {
        var best = Double.infinity
        var count = 0
        for _ in 0..<n {
            let t0 = ContinuousClock.now
            let page = try EC2XML.describeInstances(body)
            var warnings: [EC2Mapper.Warning] = []
            let mapped = EC2Mapper(serviceTag: "HAProxy:Service:Name", portTag: "HAProxy:Service:Port", weightTag: "HAProxy:Server:Weight", address: .private)
                .group([(region: "us-east-1", instances: page.instances)], services: ["web"], warnings: &warnings)
            best = min(best, (ContinuousClock.now - t0).ms)
            count = mapped["web"]?.count ?? 0
        }
        return (best, count)
    }
}
