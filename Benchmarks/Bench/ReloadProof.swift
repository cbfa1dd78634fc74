import Foundation
import HAProxyRuntime
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Benchmark 6 (issue 9): HAProxy reloads under load, side by side: the bridge with its managed config file, the
/// bridge without it (server-template slots in haproxy.cfg, re-applied after each reload), and the consul-template
/// way (real server lines in haproxy.cfg). Measured per reload: failed requests of 4 client threads, and the time
/// from the reload signal to a new worker answering with every slot right. Also the release binary's idle CPU with
/// the master-CLI watch and with the 100 ms stats-socket probe.
enum ReloadProof {
    static let bench = "reloadproof"
    static let slots = 6

    enum Mode: String, CaseIterable {
        case managed = "bridge + managed file"
        case runtimeOnly = "bridge without managed file"
        case consulTemplate = "consul-template way"
    }

    struct Drill {
        var failed: [Int] = []
        var catchUpMs: [Double] = []
        var requests = 0
        var breakdown = ""
    }

    static func run(_ options: Options, _ report: Report) async throws {
        let binary = options.bridgeBinary ?? Cost.defaultBinary()
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw TestSupportError("no discovery-bridge binary at \(binary)") }
        let reloads = options.quick ? 3 : 8
        let http = try await HTTPBackends(count: 3)
        Cleanup.shared.add { http.stop() }
        print("  \(reloads) reloads per setup (SIGUSR2 to the master, as systemctl reload), 2.5 s apart; 3 of \(slots) slots used; 4 client threads; release bridge \(binary)")
        var results: [Mode: Drill] = [:]
        for mode in Mode.allCases {
            results[mode] = try await drill(mode, binary: binary, ports: http.ports, reloads: reloads)
            let d = results[mode] ?? Drill()
            print("  \(mode.rawValue): failed per reload \(d.failed), catch-up ms \(d.catchUpMs.map { String(format: "%.0f", $0) }) (\(d.requests) requests; \(d.breakdown))")
        }
        for mode in Mode.allCases {
            let d = results[mode] ?? Drill()
            let perReload = Double(d.failed.reduce(0, +)) / Double(max(1, d.failed.count))
            let note = "max \(d.failed.max() ?? 0) of ~\(d.requests / max(1, reloads)) requests per reload window"
            if mode == .managed {
                report.atMost(bench, "\(mode.rawValue): failed requests per reload", perReload, "req", limit: 0, note: note)
            } else {
                report.add(bench, "\(mode.rawValue): failed requests per reload", perReload, "req", note: note)
            }
        }
        for mode in Mode.allCases {
            let s = Summary(results[mode]?.catchUpMs ?? [])
            let note = String(format: "max %.0f ms; reload signal → new worker answering with every slot right%@", s.max,
                              mode == .runtimeOnly ? " (after the bridge re-applied)" : " (from the file)")
            report.add(bench, "\(mode.rawValue): reload → every slot correct (median)", s.median, "ms", note: note)
        }
        try await idleCPU(binary: binary, ports: http.ports, window: options.quick ? .seconds(5) : .seconds(20), report)
    }

    /// `haproxy`: (stats socket, haproxy.cfg, master CLI) paths.
    static func bridgeConfig(_ dir: TemporaryDirectory, _ haproxy: (socket: String, config: String, master: String), managed: Bool, masterCLI: Bool) -> String {
        var hx = "\"runtime_api\": \"unix:\(haproxy.socket)\""
        if managed {
            hx += ", \"managed_config\": \"\(dir.file("managed.cfg"))\", \"check_command\": [\"haproxy\", \"-c\", \"-f\", \"\(haproxy.config)\", \"-f\", \"{file}\"]"
        }
        if masterCLI { hx += ", \"master_cli\": \"unix:\(haproxy.master)\"" }
        return """
        { "haproxy": { \(hx) }, "state_file": "\(dir.file("state.json"))",
          "providers": { "file": { "path": "\(dir.file("instances.json"))" } },
          "backends": [{ "name": "web", "slots": \(slots), "port": 8080, "server_options": "check", "sources": [{ "provider": "file", "service": "web" }] }] }
        """
    }

    static func instances(_ ports: [Int]) -> String {
        instancesJSON([("web", ports.enumerated().map { (id: "i\($0.offset)", address: "127.0.0.1", port: $0.element, weight: 10 + $0.offset) })])
    }

    /// The slots as they must be: each instance ready at its port and weight, the other slots in maintenance.
    static func correct(_ rows: [ServerStateRow], _ ports: [Int]) -> Bool {
        let ready = Set(rows.filter { $0.adminState & 0x3B == 0 }.map { "\($0.port)/\($0.userWeight)" })
        return ready == Set(ports.enumerated().map { "\($0.element)/\(10 + $0.offset)" }) && rows.count == slots
    }

    static func drill(_ mode: Mode, binary: String, ports: [Int], reloads: Int) async throws -> Drill {
        let dir = try TemporaryDirectory(prefix: "db-bench-reloadproof")
        try dir.write("instances.json", instances(ports))
        var backends: String?
        switch mode {
        case .managed: backends = ""
        case .runtimeOnly: backends = nil
        case .consulTemplate:
            backends = "backend web\n    balance roundrobin\n" + ports.enumerated().map { "    server i\($0.offset) 127.0.0.1:\($0.element) check weight \(10 + $0.offset)\n" }.joined()
                + (ports.count..<slots).map { "    server i\($0) 127.0.0.1:9 check disabled\n" }.joined()
        }
        // The managed file exists before HAProxy starts (the first-install step: `render`), empty slots at first.
        let managedPath = dir.file("managed.cfg")
        if mode == .managed {
            try dir.write("pre.json", bridgeConfig(dir, (dir.file("none.sock"), dir.file("none.cfg"), dir.file("none-master.sock")), managed: true, masterCLI: false))
            let r = try await runCommand(binary, ["render", "--config", dir.file("pre.json")])
            guard r.status == 0 else { throw TestSupportError("render: \(r.stderr)") }
            try r.stdout.write(toFile: managedPath, atomically: true, encoding: .utf8)
        }
        let haproxy = try await HAProxyInstance(backends: [.init(name: "web", slots: slots, serverOptions: "check")], backendsConfig: backends,
                                                masterWorker: true, extraConfigFiles: mode == .managed ? [managedPath] : [])
        Cleanup.shared.add { haproxy.cleanup(); dir.remove() }
        if mode != .consulTemplate {
            try dir.write("config.json", bridgeConfig(dir, paths(haproxy), managed: mode == .managed, masterCLI: true))
            let child = try Cost.launch(binary, dir: dir)
            try await Cost.waitReady(haproxy, count: ports.count, child: child, dir: dir)
        }
        if mode == .managed {
            try await eventually("the managed file written", timeout: .seconds(20)) {
                ((try? String(contentsOfFile: managedPath, encoding: .utf8)) ?? "").contains("127.0.0.1:\(ports[0])")
            }
        }
        let front = haproxy.frontendPorts["web"] ?? 0
        let load = HTTPLoad(port: front, threads: 4, timeoutMs: 5000)
        try await Task.sleep(for: .milliseconds(500))
        var d = Drill()
        for _ in 0..<reloads {
            let failedBefore = load.failed
            let old = try await haproxy.currentWorkerPID()
            try await haproxy.waitForMasterLoop()
            let start = ContinuousClock.now
            guard let pid = haproxy.pid else { throw TestSupportError("HAProxy not running") }
            kill(pid, SIGUSR2)
            let ok = await onThread { () -> Bool in
                while ContinuousClock.now < start + .seconds(20) {
                    if let rows = currentRows(haproxy.socketPath, notPID: old), correct(rows, ports) { return true }
                    usleep(1_000)
                }
                return false
            }
            guard ok else { throw TestSupportError("\(mode.rawValue): slots not right within 20 s of a reload") }
            d.catchUpMs.append((ContinuousClock.now - start).ms)
            try await Task.sleep(until: start + .milliseconds(2500), clock: .continuous)
            d.failed.append(load.failed - failedBefore)
        }
        await load.stop()
        d.requests = load.ok + load.failed
        d.breakdown = load.breakdown
        return d
    }

    /// `show servers state web` from a worker other than `notPID`, over a new connection; nil otherwise.
    static func currentRows(_ socket: String, notPID: Int) -> [ServerStateRow]? {
        guard let text = unixRequest(path: socket, "show info;show servers state web\n", timeoutMs: 1000),
              let pidLine = text.split(separator: "\n").first(where: { $0.hasPrefix("Pid: ") }), Int(pidLine.dropFirst(5)) != notPID,
              let start = text.range(of: "\n1\n# be_id") else { return nil }
        return try? RuntimeParsers.serversState(String(text[text.index(after: start.lowerBound)...]))
    }

    static func paths(_ h: HAProxyInstance) -> (socket: String, config: String, master: String) {
        (h.socketPath, h.configPath, h.masterSocketPath)
    }
}
