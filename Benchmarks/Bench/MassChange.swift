import DiscoveryCore
import Foundation
import HAProxyRuntime
import TestSupport

/// Benchmark 10: a mass change on a running bridge: one rewrite of the instances file adds 2,000 instances over 100
/// backends; from the rename until HAProxy has answered every command, versus the same commands sent raw over one
/// connection (the floor), in the same run on the same HAProxy.
enum MassChange {
    static let bench = "masschange"

    static func run(_ options: Options, _ report: Report) async throws {
        let backends = 100, perBackend = 20, runs = options.quick ? 2 : 5
        let total = backends * perBackend
        let haproxy = try await HAProxyInstance(backends: (0..<backends).map { .init(name: "be\($0)", slots: perBackend) }, withFrontends: false)
        Cleanup.shared.add { haproxy.cleanup() }
        let backendsJSON = (0..<backends).map { b in
            "{ \"name\": \"be\(b)\", \"slots\": \(perBackend), \"port\": 8080, \"server_options\": \"\", \"sources\": [{ \"provider\": \"file\", \"service\": \"svc\(b)\" }] }"
        }.joined(separator: ",\n")
        let empty = instancesJSON((0..<backends).map { ("svc\($0)", []) })
        let full = instancesJSON((0..<backends).map { b in
            ("svc\(b)", (0..<perBackend).map { (id: "i\($0)", address: syntheticAddress(b, $0), port: 8080, weight: nil as Int?) })
        })
        print("  \(total) new instances over \(backends) backends in one rewrite of the file, \(runs) runs, fresh HAProxy every run")

        var bridgeTimes: [Double] = [], writeTimes: [Double] = [], lines: [String] = []
        for run in 0..<runs {
            if run > 0 { try await haproxy.restart() }
            let bridge = try InProcessBridge(socketPath: haproxy.socketPath, body: """
            "providers": { "file": { "path": "instances.json" } },
            "backends": [\(backendsJSON)]
            """)
            try bridge.writeInstances(empty)
            try await bridge.start()
            try await eventually("the bridge's first sync", timeout: .seconds(60), every: .milliseconds(5)) { bridge.firstSync.withLock { $0 } != nil }
            try await Task.sleep(for: .milliseconds(200))
            guard let control = bridge.control else { throw TestSupportError("no control") }
            let before = control.answered.withLock { $0.count }
            // From the rename: writing the temporary file is the bench's own work (about 1 ms for these 150 KB).
            let writing = ContinuousClock.now
            let start = try bridge.writeInstances(full)
            writeTimes.append((start - writing).ms)
            var done: ContinuousClock.Instant?
            let deadline = start + .seconds(30)
            while done == nil {
                let (count, at) = control.answered.withLock { $0 }
                if count - before >= 2 * total { done = at } else {
                    guard ContinuousClock.now < deadline else { throw TestSupportError("only \(count - before) of \(2 * total) commands answered within 30s") }
                    try await Task.sleep(for: .microseconds(200))
                }
            }
            let elapsed = ((done ?? start) - start).ms
            let verify = RuntimeClient(endpoint: haproxy.endpoint, timeout: .seconds(5))
            let ready = readyCount(try await verify.showServersState())
            verify.close()
            guard ready == total else { throw TestSupportError("only \(ready) of \(total) slots ready after the mass change") }
            lines = control.executed.suffix(2 * total).map(\.line)
            bridgeTimes.append(elapsed)
            await bridge.cleanup()
            print(String(format: "    run %d: rename → all answered %.1f ms", run + 1, elapsed))
        }

        var floor: [Double] = [], parallel: [Double] = []
        let byBackend = Dictionary(grouping: lines.indices, by: { lines[$0].split(separator: " ")[2].split(separator: "/")[0] })
        var halves: [[String]] = [[], []]
        for (k, key) in byBackend.keys.sorted().enumerated() { halves[k % 2] += (byBackend[key] ?? []).map { lines[$0] } }
        for _ in 0..<runs {
            try await haproxy.restart()
            let path = haproxy.socketPath, groups = halves
            guard let t = await onThread({ ColdSync.parallelReplay(path: path, groups: groups) }) else {
                throw TestSupportError("parallel raw replay failed")
            }
            parallel.append(t)
            try await haproxy.restart()
            let client = RuntimeClient(endpoint: haproxy.endpoint, timeout: .seconds(10))
            _ = try await client.raw(["show info"])  // connected, as the running bridge is
            let start = ContinuousClock.now
            _ = try await client.raw(lines)
            floor.append((ContinuousClock.now - start).ms)
            client.close()
        }
        let b = Summary(bridgeTimes).median, f = Summary(floor).median, p = Summary(parallel).median
        report.add(bench, "bridge: rename → all \(2 * total) commands answered (median)", b, "ms", note: "read, parse, plan, send, answers checked")
        report.add(bench, "the bench's own write of the new file before its rename, not counted (median)", Summary(writeTimes).median, "ms")
        report.add(bench, "floor: the same \(lines.count) lines raw over one open connection (median)", f, "ms",
                   note: String(format: "%.0f commands/s", Double(lines.count) / f * 1000))
        report.add(bench, "floor: minimal writer, 2 connections in parallel, whole backends on each (median)", p, "ms",
                   note: String(format: "%.0f commands/s, connect included", Double(lines.count) / p * 1000))
        report.add(bench, "ratio mass change / one-connection floor", b / f, "x", note: "was 3.4x (64 ms vs 19 ms)")
        report.atMost(bench, "ratio mass change / best floor", b / min(f, p), "x", limit: 1.3, note: "the better of the two raw replays")
    }
}
