import Bridge
import DiscoveryCore
import Dispatch
import FileProvider
import Foundation
import HAProxyRuntime
import Logging
import StateStore
import Synchronization
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Benchmark 3: from the bridge's start to every slot ready on a freshly started HAProxy, versus the floor: the same
/// command lines (captured from the bridge's batches) sent over one connection with no bridge logic.
enum ColdSync {
    static let bench = "coldsync"

    static func run(_ options: Options, _ report: Report) async throws {
        let backends = options.quick ? 100 : 500, perBackend = 20, runs = options.quick ? 1 : 3
        let total = backends * perBackend
        let haproxy = try await HAProxyInstance(backends: (0..<backends).map { .init(name: "be\($0)", slots: perBackend) }, withFrontends: false)
        Cleanup.shared.add { haproxy.cleanup() }
        let doc = instancesJSON((0..<backends).map { b in
            ("svc\(b)", (0..<perBackend).map { (id: "i\($0)", address: syntheticAddress(b, $0), port: 8080, weight: nil as Int?) })
        })
        let backendsJSON = (0..<backends).map { b in
            "{ \"name\": \"be\(b)\", \"slots\": \(perBackend), \"port\": 8080, \"server_options\": \"\", \"sources\": [{ \"provider\": \"file\", \"service\": \"svc\(b)\" }] }"
        }.joined(separator: ",\n")
        print("  \(total) instances over \(backends) backends, \(runs) run(s) each, fresh HAProxy every run")

        var bridgeTimes: [Double] = [], oneConnectionTimes: [Double] = []
        var lines: [String] = [], backendOf: [String] = []
        // Alternating: the default (two connections when HAProxy has two threads), then `haproxy.connections` 1.
        for run in 0..<(2 * runs) {
            if run > 0 { try await haproxy.restart() }
            let connections = run % 2 == 0 ? 2 : 1
            let bridge = try InProcessBridge(socketPath: haproxy.socketPath, body: """
            "providers": { "file": { "path": "instances.json" } },
            "backends": [\(backendsJSON)]
            """, connections: connections)
            try bridge.writeInstances(doc)
            let start = ContinuousClock.now
            try await bridge.start()
            let deadline = start + .seconds(120)
            var synced: ContinuousClock.Instant?
            while synced == nil {
                synced = bridge.firstSync.withLock { $0 }
                if synced == nil {
                    guard ContinuousClock.now < deadline else { throw TestSupportError("bridge not ready within 120s") }
                    try await Task.sleep(for: .microseconds(500))
                }
            }
            let elapsed = ((synced ?? start) - start).ms
            let verify = RuntimeClient(endpoint: haproxy.endpoint, timeout: .seconds(5))
            let ready = readyCount(try await verify.showServersState())
            verify.close()
            guard ready == total else { throw TestSupportError("bridge reported ready but only \(ready) of \(total) slots are ready") }
            if connections == 2 { bridgeTimes.append(elapsed) } else { oneConnectionTimes.append(elapsed) }
            lines = bridge.control?.executed.map(\.line) ?? []
            backendOf = bridge.control?.executed.map(\.backend) ?? []
            await bridge.cleanup()
            print(String(format: "    run %d: bridge (%d connection%@) %.1f ms, %d commands", run / 2 + 1, connections, connections == 1 ? "" : "s", elapsed, lines.count))
        }
        guard !lines.isEmpty else { throw TestSupportError("no commands captured") }

        var floorClient: [Double] = [], floorSocket: [Double] = [], floorParallel: [Double] = []
        for _ in 0..<runs {
            try await haproxy.restart()
            let client = RuntimeClient(endpoint: haproxy.endpoint, timeout: .seconds(10))
            let start = ContinuousClock.now
            _ = try await client.raw(lines)
            floorClient.append((ContinuousClock.now - start).ms)
            client.close()
            let check = RuntimeClient(endpoint: haproxy.endpoint, timeout: .seconds(5))
            let ready = readyCount(try await check.showServersState())
            check.close()
            guard ready == total else { throw TestSupportError("raw replay left \(ready) of \(total) slots ready") }

            try await haproxy.restart()
            let path = haproxy.socketPath
            let captured = lines
            let t = await onThread { rawSocketReplay(path: path, lines: captured) }
            guard let t else { throw TestSupportError("raw socket replay failed") }
            floorSocket.append(t)

            // What HAProxy can do, not what one connection can: whole backends split over two connections.
            try await haproxy.restart()
            var halves: [[String]] = [[], []]
            var slot: [String: Int] = [:]
            for (line, backend) in zip(captured, backendOf) {
                if slot[backend] == nil { slot[backend] = slot.count % 2 }
                halves[slot[backend] ?? 0].append(line)
            }
            let groups = halves
            let parallel = await onThread { parallelReplay(path: path, groups: groups) }
            guard let parallel else { throw TestSupportError("parallel raw socket replay failed") }
            floorParallel.append(parallel)
        }
        // Where the bridge's extra time goes: the pieces it does before its batch, timed alone on a fresh HAProxy.
        var configTimes: [Double] = [], parseTimes: [Double] = [], liveTimes: [Double] = []
        let probe = try InProcessBridge(socketPath: haproxy.socketPath, body: """
        "providers": { "file": { "path": "instances.json" } },
        "backends": [\(backendsJSON)]
        """)
        defer { probe.dir.remove() }
        let docBytes = Array(doc.utf8)
        var planTimes: [Double] = [], encodeTimes: [Double] = [], referenceEncodeTimes: [Double] = [], changedEncodeTimes: [Double] = []
        for _ in 0..<runs {
            var t = ContinuousClock.now
            let loaded = try ConfigLoader(factories: [FileProviderFactory()], logger: Logger(label: "bench")).load(path: probe.configPath)
            configTimes.append((ContinuousClock.now - t).ms)
            t = ContinuousClock.now
            let services = try InstancesFile.parse(docBytes, file: "instances.json")
            parseTimes.append((ContinuousClock.now - t).ms)
            try await haproxy.restart()
            let client = RuntimeClient(endpoint: haproxy.endpoint, timeout: .seconds(10))
            t = ContinuousClock.now
            let live = try await client.readLiveState()
            liveTimes.append((ContinuousClock.now - t).ms)
            client.close()
            var snapshots: [String: [Instance]] = [:]
            for backend in loaded.config.backends {
                for source in backend.sources { snapshots[source.key] = services[source.service] ?? [] }
            }
            t = ContinuousClock.now
            let plans = Planning.plan(backends: loaded.config.backends, tables: [:], live: live.backends, snapshots: snapshots,
                                      sessions: [:], now: Date().timeIntervalSince1970)
            planTimes.append((ContinuousClock.now - t).ms)
            guard plans.reduce(0, { $0 + $1.plan.commands.count }) == lines.count else {
                throw TestSupportError("planning alone gave \(plans.reduce(0) { $0 + $1.plan.commands.count }) commands, the bridge sent \(lines.count)")
            }
            // The state file written after the batch: the bridge's writer against JSONEncoder, same bytes.
            let state = StateDocument(writtenAt: Date().timeIntervalSince1970, haproxy: HAProxyIdentity(pid: live.info.pid, startTimeSec: live.info.startTimeSec),
                                      backends: Dictionary(plans.map { ($0.plan.backend, $0.plan.slots) }, uniquingKeysWith: { a, _ in a }))
            t = ContinuousClock.now
            let ours = try StateStore.encode(state)
            encodeTimes.append((ContinuousClock.now - t).ms)
            t = ContinuousClock.now
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let theirs = try encoder.encode(state)
            referenceEncodeTimes.append((ContinuousClock.now - t).ms)
            guard ours == theirs else { throw TestSupportError("the state file writer and JSONEncoder disagree on \(total) slots") }
            // The write after a change to one backend, as the persister does it: the other tables' bytes reused.
            var cache = StateStore.EncodingCache()
            _ = try StateStore.encode(state, cache: &cache)
            var changed = state
            if let name = changed.backends.keys.min(), var table = changed.backends[name], !table.slots.isEmpty {
                table.slots[0].weight = table.slots[0].weight == 7 ? 8 : 7
                changed.backends[name] = table
            }
            t = ContinuousClock.now
            let incremental = try StateStore.encode(changed, cache: &cache)
            changedEncodeTimes.append((ContinuousClock.now - t).ms)
            guard incremental == (try StateStore.encode(changed)) else { throw TestSupportError("the incremental state file differs from a whole encoding") }
        }
        let b = Summary(bridgeTimes).median, fc = Summary(floorClient).median, fs = Summary(floorSocket).median
        report.add(bench, "bridge start→all \(total) ready (median)", b, "ms", note: "config load, file parse, live read, plan, apply")
        report.add(bench, "commands sent", Double(lines.count), "lines")
        report.add(bench, "floor: RuntimeClient.raw, same lines (median)", fc, "ms", note: String(format: "%.0f commands/s", Double(lines.count) / fc * 1000))
        report.add(bench, "floor: minimal raw-socket writer (median)", fs, "ms", note: String(format: "%.0f commands/s", Double(lines.count) / fs * 1000))
        let cl = Summary(configTimes).median, pa = Summary(parseTimes).median, lr = Summary(liveTimes).median
        report.add(bench, "part: config load (\(backends) backends)", cl, "ms")
        report.add(bench, "part: instances file parse (\(total))", pa, "ms")
        report.add(bench, "part: live read (show info + show servers state, parsed)", lr, "ms")
        let pl = Summary(planTimes).median
        report.add(bench, "part: planning (Planning.plan, all backends)", pl, "ms")
        let en = Summary(encodeTimes).median, ref = Summary(referenceEncodeTimes).median
        report.add(bench, "state file encode (\(total) slots), after the batch, off the send path", en, "ms",
                   note: String(format: "JSONEncoder, same bytes: %.1f ms (%.0fx)", ref, ref / en))
        report.add(bench, "state file encode after a change to one backend (the persister's case)", Summary(changedEncodeTimes).median, "ms",
                   note: "the other \(backends - 1) tables' bytes reused")
        report.add(bench, "part: rest (scheduling, answer checks, state file, CPU contention)", b - fc - cl - pa - lr - pl, "ms",
                   note: "bridge − floor − the parts above; planning overlaps the send now, so its share is hidden when a core is free")
        let fp = Summary(floorParallel).median
        report.add(bench, "floor: minimal writer, 2 connections in parallel (median)", fp, "ms",
                   note: String(format: "%.0f commands/s; HAProxy nbthread = cores here", Double(lines.count) / fp * 1000))
        let best = min(fc, fs, fp)
        report.add(bench, "ratio bridge / RuntimeClient floor (one connection)", b / fc, "x", note: "was 1.69x")
        report.atMost(bench, "ratio bridge / best floor", b / best, "x", limit: 1.2, note: "the best of the three raw replays: what HAProxy can do")
        let one = Summary(oneConnectionTimes).median
        report.add(bench, "bridge with haproxy.connections 1 (median)", one, "ms", note: String(format: "%.2fx the one-connection floor", one / fc))
        report.add(bench, "ratio bridge / raw-socket floor", b / fs, "x")
    }

    /// `rawSocketReplay` of each group on its own connection, all at once; returns ms until the last one finished.
    static func parallelReplay(path: String, groups: [[String]]) -> Double? {
        let start = ContinuousClock.now
        let results = Mutex<[Double?]>([])
        let group = DispatchGroup()
        for lines in groups {
            group.enter()
            Thread {
                let t = rawSocketReplay(path: path, lines: lines)
                results.withLock { $0.append(t) }
                group.leave()
            }.start()
        }
        guard group.wait(timeout: .now() + 60) == .success else { return nil }
        return results.withLock { $0.contains { $0 == nil } } ? nil : (ContinuousClock.now - start).ms
    }

    /// Connects to the admin socket, sends `prompt`, every line and `quit`, and reads until HAProxy closes; returns ms.
    static func rawSocketReplay(path: String, lines: [String]) -> Double? {
        let payload = Array(("prompt\n" + lines.joined(separator: "\n") + "\nquit\n").utf8)
        let start = ContinuousClock.now
        guard let fd = unixConnect(path) else { return nil }
        defer { close(fd) }
        // Reader on its own thread so HAProxy's answers never back up behind our writes.
        let done = DispatchSemaphore(value: 0)
        let reader = Thread {
            var buf = [UInt8](repeating: 0, count: 65536)
            while buf.withUnsafeMutableBytes({ recv(fd, $0.baseAddress, $0.count, 0) }) > 0 {}
            done.signal()
        }
        reader.start()
        var off = 0
        while off < payload.count {
            let n = payload[off...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { if errno == EINTR { continue }; break }
            off += n
        }
        guard done.wait(timeout: .now() + 30) == .success else { shutdown(fd, Int32(SHUT_RDWR)); done.wait(); return nil }
        return off == payload.count ? (ContinuousClock.now - start).ms : nil
    }
}
