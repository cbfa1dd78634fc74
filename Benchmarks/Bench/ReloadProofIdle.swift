import Foundation
import TestSupport

extension ReloadProof {
    /// Idle CPU of the release binary noticing reloads: the master-CLI watch (one idle connection) against the
    /// stats-socket probe (a new connection every `reload_probe_interval`, 100 ms), HAProxy's worker included.
    static func idleCPU(binary: String, ports: [Int], window: Duration, _ report: Report) async throws {
        for masterCLI in [true, false] {
            let dir = try TemporaryDirectory(prefix: "db-bench-reloadidle")
            try dir.write("instances.json", instances(ports))
            let haproxy = try await HAProxyInstance(backends: [.init(name: "web", slots: slots, serverOptions: "check")], masterWorker: true)
            Cleanup.shared.add { haproxy.cleanup(); dir.remove() }
            try dir.write("config.json", bridgeConfig(dir, paths(haproxy), managed: false, masterCLI: masterCLI))
            let child = try Cost.launch(binary, dir: dir)
            try await Cost.waitReady(haproxy, count: ports.count, child: child, dir: dir)
            try await Task.sleep(for: .seconds(2))
            let worker = Int32(try await haproxy.currentWorkerPID())
            let b0 = cpuSeconds(pid: child.pid) ?? .nan, w0 = cpuSeconds(pid: worker) ?? .nan
            let t0 = ContinuousClock.now
            try await Task.sleep(for: window)
            let secs = (ContinuousClock.now - t0).sec
            let b1 = cpuSeconds(pid: child.pid) ?? .nan, w1 = cpuSeconds(pid: worker) ?? .nan
            let what = masterCLI ? "master CLI watch" : "stats probe every 100 ms"
            report.atMost(bench, "idle CPU, bridge, \(what)", (b1 - b0) / secs * 100, "%", limit: 1,
                          note: String(format: "over %.0f s; CLK_TCK 10 ms resolution; HAProxy worker %.2f%% meanwhile", secs, (w1 - w0) / secs * 100))
            child.stop()
            haproxy.cleanup()
        }
    }
}
