import Foundation
import HAProxyRuntime
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Benchmark 4: the real `discovery-bridge run` release binary, idle: peak RSS and CPU holding 10,000 instances (file
/// provider), and Consul requests per watched service per idle minute (50 services, `wait` 5m).
enum Cost {
    static let bench = "cost"

    static func defaultBinary() -> String {
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        return me.deletingLastPathComponent().appendingPathComponent("discovery-bridge").path
    }

    static func run(_ options: Options, _ report: Report) async throws {
        let binary = options.bridgeBinary ?? defaultBinary()
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw TestSupportError("no discovery-bridge binary at \(binary) (build it: swift build -c release --product discovery-bridge, or pass --bridge-bin)")
        }
        let idle: Duration = options.quick ? .seconds(10) : .seconds(60)
        print("  binary: \(binary); idle window \(idle)")
        try await memoryAndCPU(binary: binary, backends: 1, perBackend: 1, idle: nil, report)
        try await memoryAndCPU(binary: binary, backends: 500, perBackend: 20, idle: idle, report)
        try await consulRequests(binary: binary, idle: idle, report)
    }

    /// Starts the binary with `config`, returns the child (registered for cleanup).
    static func launch(_ binary: String, dir: TemporaryDirectory) throws -> ChildProcess {
        let child = try ChildProcess(name: "discovery-bridge", executable: binary, arguments: ["run", "--config", dir.file("config.json")],
                                     output: dir.file("bridge.log"))
        Cleanup.shared.add { child.stop(); dir.remove() }
        return child
    }

    static func waitReady(_ haproxy: HAProxyInstance, count: Int, child: ChildProcess, dir: TemporaryDirectory) async throws {
        let client = RuntimeClient(endpoint: haproxy.endpoint, timeout: .seconds(5))
        defer { client.close() }
        try await eventually("\(count) slots ready", timeout: .seconds(120), every: .milliseconds(250)) {
            guard child.isRunning else {
                throw TestSupportError("discovery-bridge exited: \((try? String(contentsOfFile: dir.file("bridge.log"), encoding: .utf8))?.suffix(2000) ?? "")")
            }
            return readyCount(try await client.showServersState()) >= count
        }
    }

    /// Without `idle`, only the resident size once synced (a baseline for the per-instance cost).
    static func memoryAndCPU(binary: String, backends: Int, perBackend: Int, idle: Duration?, _ report: Report) async throws {
        let total = backends * perBackend
        let haproxy = try await HAProxyInstance(backends: (0..<backends).map { .init(name: "be\($0)", slots: perBackend) }, withFrontends: false)
        Cleanup.shared.add { haproxy.cleanup() }
        let dir = try TemporaryDirectory(prefix: "db-bench-cost")
        let backendsJSON = (0..<backends).map { b in
            "{ \"name\": \"be\(b)\", \"slots\": \(perBackend), \"port\": 8080, \"server_options\": \"\", \"sources\": [{ \"provider\": \"file\", \"service\": \"svc\(b)\" }] }"
        }.joined(separator: ",\n")
        // Defaults everywhere else (resync 10s, restart check 1s, file poll 2s).
        try dir.write("config.json", """
        {
          "haproxy": { "runtime_api": "unix:\(haproxy.socketPath)" },
          "state_file": "\(dir.file("state.json"))",
          "providers": { "file": { "path": "\(dir.file("instances.json"))" } },
          "backends": [\(backendsJSON)]
        }
        """)
        try dir.write("instances.json", instancesJSON((0..<backends).map { b in
            ("svc\(b)", (0..<perBackend).map { (id: "i\($0)", address: syntheticAddress(b, $0), port: 8080, weight: nil as Int?) })
        }))
        let child = try launch(binary, dir: dir)
        let start = ContinuousClock.now
        try await waitReady(haproxy, count: total, child: child, dir: dir)
        print(String(format: "  %d instances in HAProxy %.2f s after start (polled every 250 ms)", total, (ContinuousClock.now - start).sec))
        try await Task.sleep(for: .seconds(1))
        let pid = child.pid
        guard let idle else {
            try await Task.sleep(for: .seconds(2))
            let hwm = statusKB(pid: pid, "VmHWM") ?? .nan
            child.stop()
            report.atMost(bench, "baseline peak RSS (VmHWM), \(total) instance", hwm / 1024, "MB", limit: 20, note: "same binary and defaults, one backend, file provider: libcurl not loaded")
            return
        }
        guard let cpu0 = cpuSeconds(pid: pid) else { throw TestSupportError("cannot read /proc/\(pid)/stat") }
        let t0 = ContinuousClock.now
        try await Task.sleep(for: idle)
        guard let cpu1 = cpuSeconds(pid: pid), let hwm = statusKB(pid: pid, "VmHWM"), let rss = statusKB(pid: pid, "VmRSS") else {
            throw TestSupportError("cannot read /proc/\(pid)")
        }
        let window = (ContinuousClock.now - t0).sec
        let cpuPercent = (cpu1 - cpu0) / window * 100
        child.stop()
        report.atMost(bench, "peak RSS (VmHWM), \(total) instances", hwm / 1024, "MB", limit: 40, note: String(format: "VmRSS at end %.1f MB", rss / 1024))
        report.atMost(bench, "idle CPU over \(Int(window.rounded())) s", cpuPercent, "%", limit: 1.0,
                      note: String(format: "%.2f CPU s; resync every 10s reads all %d servers", cpu1 - cpu0, total))
    }

    static func consulRequests(binary: String, idle: Duration, _ report: Report) async throws {
        let services = 50
        let fake = try ConsulFake(arguments: ["--max-seconds", "1800"])
        Cleanup.shared.add { fake.stop() }
        for s in 0..<services {
            for i in 0..<2 {
                try await fake.register("svc\(s)", id: "i\(i)", node: "n\(s)-\(i)", nodeAddress: syntheticAddress(s, i), port: 8080)
            }
        }
        let haproxy = try await HAProxyInstance(backends: (0..<services).map { .init(name: "be\($0)", slots: 4) }, withFrontends: false)
        Cleanup.shared.add { haproxy.cleanup() }
        let dir = try TemporaryDirectory(prefix: "db-bench-consul")
        let backendsJSON = (0..<services).map { b in
            "{ \"name\": \"be\(b)\", \"slots\": 4, \"port\": 8080, \"server_options\": \"\", \"sources\": [{ \"provider\": \"consul\", \"service\": \"svc\(b)\" }] }"
        }.joined(separator: ",\n")
        try dir.write("config.json", """
        {
          "haproxy": { "runtime_api": "unix:\(haproxy.socketPath)" },
          "state_file": "\(dir.file("state.json"))",
          "providers": { "consul": { "address": "\(fake.address)", "wait": "5m" } },
          "backends": [\(backendsJSON)]
        }
        """)
        let child = try launch(binary, dir: dir)
        try await waitReady(haproxy, count: services * 2, child: child, dir: dir)
        try await Task.sleep(for: .seconds(1))
        func apiRequests() async throws -> Int {
            try await fake.stats().paths.filter { $0.key.hasPrefix("/v1/") }.values.reduce(0, +)
        }
        let r0 = try await apiRequests()
        let t0 = ContinuousClock.now
        try await Task.sleep(for: idle)
        let r1 = try await apiRequests()
        let minutes = (ContinuousClock.now - t0).sec / 60
        child.stop()
        let perServiceMinute = Double(r1 - r0) / Double(services) / minutes
        print("  \(r0) Consul API requests during startup (\(services) services), \(r1 - r0) during the idle window")
        // One request per wait period (5m) per service is the most a blocking query should cost: 0.2 per minute.
        report.atMost(bench, "Consul requests per service per idle minute", perServiceMinute, "req", limit: 60.0 / 300.0,
                      note: "\(services) services, wait 5m, \(r1 - r0) requests in \(String(format: "%.0f", minutes * 60)) s")
    }
}
