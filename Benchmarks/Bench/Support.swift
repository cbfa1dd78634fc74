import Bridge
import DiscoveryCore
import Dispatch
import FileProvider
import ConsulProvider
import EC2Provider
import Foundation
import HAProxyRuntime
import Logging
import StateStore
import Synchronization
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

// MARK: Cleanup

/// Everything a benchmark started, stopped at the end of that benchmark, on error, and on SIGINT/SIGTERM.
final class Cleanup: Sendable {
    static let shared = Cleanup()
    private let actions = Mutex<[(Int, @Sendable () -> Void)]>([])
    private let nextID = Atomic<Int>(0)

    /// Registers `action`; the returned id lets the owner run it early (`run(id)`).
    @discardableResult
    func add(_ action: @escaping @Sendable () -> Void) -> Int {
        let id = nextID.add(1, ordering: .relaxed).newValue
        actions.withLock { $0.append((id, action)) }
        return id
    }

    /// Runs and forgets one action.
    func run(_ id: Int) {
        let action = actions.withLock { list -> (@Sendable () -> Void)? in
            guard let i = list.firstIndex(where: { $0.0 == id }) else { return nil }
            return list.remove(at: i).1
        }
        action?()
    }

    /// Runs every registered action, newest first.
    func runAll() {
        let all = actions.withLock { list in
            defer { list.removeAll() }
            return list
        }
        for (_, action) in all.reversed() { action() }
    }
}

// MARK: Polling

/// Microseconds a bench's poller pauses between two polls of what it watches (`BENCH_POLL_PAUSE_US`, default 200;
/// 0 polls back to back): the reload bench's frontend, the propagation bench's `show servers state`. Back to back,
/// the poller and HAProxy answering it kept both of this 2-core VM's cores busy, and the path being timed (the Consul
/// fake, libcurl, the bridge, HAProxy's runtime thread) waited for a core; a pause costs at most that much resolution.
let benchPollPauseMicroseconds: UInt32 = UInt32(ProcessInfo.processInfo.environment["BENCH_POLL_PAUSE_US"].flatMap { UInt32($0) } ?? 200)

// MARK: Statistics

struct Summary: Sendable {
    var count: Int
    var median: Double
    var p99: Double
    var max: Double
    var mean: Double

    init(_ values: [Double]) {
        let s = values.sorted()
        count = s.count
        func q(_ p: Double) -> Double {
            guard !s.isEmpty else { return .nan }
            let i = Int((Double(s.count - 1) * p).rounded(.up))
            return s[Swift.min(Swift.max(i, 0), s.count - 1)]
        }
        median = q(0.5)
        p99 = q(0.99)
        max = s.last ?? .nan
        mean = s.isEmpty ? .nan : s.reduce(0, +) / Double(s.count)
    }
}

extension Duration {
    var ms: Double { seconds * 1000 }
    var sec: Double { ms / 1000 }
}

/// Runs blocking work on a Dispatch thread, keeping Swift's cooperative pool free for the bridge.
func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { c in
        DispatchQueue.global().async { c.resume(returning: body()) }
    }
}

// MARK: The bridge in this process

/// Records every action the reconciler sends while passing it through to HAProxy.
final class RecordingControl: HAProxyControl {
    let inner: RuntimeClient
    /// Every batch's results as they came back (the arrays themselves: recording costs the timed path nothing).
    let batches = Mutex<[[ActionResult]]>([])
    /// Every action sent, in order.
    var executed: [SlotAction] { batches.withLock { $0.flatMap { $0.map(\.action) } } }
    /// Actions HAProxy has answered so far, and when the last batch's answers were all in.
    let answered = Mutex<(count: Int, at: ContinuousClock.Instant?)>((0, nil))

    init(_ inner: RuntimeClient) { self.inner = inner }

    /// The reconciler runs on the real client's thread, as in the daemon.
    var runtimeThread: RuntimeThread? { inner.laneThread }

    nonisolated(nonsending) func apply(_ actions: [SlotAction]) async throws(RuntimeError) -> [ActionResult] {
        let results = try await inner.apply(actions)
        answered.withLock { $0 = ($0.count + results.count, .now) }
        batches.withLock { $0.append(results) }
        return results
    }

    nonisolated(nonsending) func stream<Feed: BatchFeed>(_ feed: Feed, readingLiveFirst: Bool) async -> StreamedBatch<Feed> {
        let done = await inner.stream(feed, readingLiveFirst: readingLiveFirst)
        answered.withLock { $0 = ($0.count + done.results.count, .now) }
        batches.withLock { $0.append(done.results) }
        return done
    }

    nonisolated(nonsending) func readLiveState() async throws(RuntimeError) -> LiveState { try await inner.readLiveState() }

    nonisolated(nonsending) func readSessions(backends: [String]) async throws(RuntimeError) -> [String: [String: Int]] {
        try await inner.readSessions(backends: backends)
    }

    nonisolated(nonsending) func probeInfo() async throws(RuntimeError) -> HAProxyInfo { try await inner.probeInfo() }

    func close() { inner.close() }
}

/// An in-process bridge built by the same composition root as `run`, its HAProxy connection recorded.
final class InProcessBridge: @unchecked Sendable {
    let dir: TemporaryDirectory
    private(set) var assembly: BridgeAssembly?
    var reconciler: Reconciler? { assembly?.reconciler }
    private(set) var control: RecordingControl?
    private var running: Task<Void, Never>?
    let firstSync = Mutex<ContinuousClock.Instant?>(nil)
    /// Change-to-applied seconds of every batch, seen through the post-batch hook.
    let applied = Mutex<[Double]>([])
    /// Each batch's timeline with its slowest change-to-applied, in seconds (batches that carried a change).
    let timelines = Mutex<[(slowest: Double, timeline: BatchTimeline)]>([])
    private var cleanupID: Int?

    var configPath: String { dir.file("config.json") }
    var instancesPath: String { dir.file("instances.json") }

    /// `body` is the config's JSON object content after the `haproxy` and `state_file` keys.
    init(socketPath: String, body: String, connections: Int = 2) throws {
        dir = try TemporaryDirectory(prefix: "db-bench-bridge")
        try dir.write("config.json", """
        {
          "haproxy": { "runtime_api": "unix:\(socketPath)", "timeout_ms": 5000, "connections": \(connections) },
          "state_file": "\(dir.file("state.json"))",
          \(body)
        }
        """)
        let d = dir
        cleanupID = Cleanup.shared.add { d.remove() }
    }

    /// Writes the instances file atomically (temp file, then rename), as a deploy tool would; returns when the rename
    /// began, the first moment the bridge can see the new file.
    @discardableResult
    func writeInstances(_ text: String) throws -> ContinuousClock.Instant {
        try text.write(toFile: instancesPath + ".tmp", atomically: false, encoding: .utf8)
        let renaming = ContinuousClock.now
        guard rename(instancesPath + ".tmp", instancesPath) == 0 else { throw TestSupportError("rename failed: \(String(cString: strerror(errno)))") }
        return renaming
    }

    func start() async throws {
        var logger = Logger(label: "bench-bridge")
        logger.logLevel = ProcessInfo.processInfo.environment["BENCH_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .error
        let factories: [any ProviderFactory] = [FileProviderFactory(), ConsulProviderFactory(), EC2ProviderFactory()]
        let loaded = try ConfigLoader(factories: factories, logger: logger).load(path: configPath)
        let control = RecordingControl(RuntimeClient(endpoint: loaded.config.haproxy.runtimeAPI, timeout: loaded.config.haproxy.timeout,
                                                     connections: loaded.config.haproxy.connections, logger: logger))
        self.control = control
        var options = BridgeAssembly.Options.inProcess
        options.haproxy = { _, _ in control }
        options.afterBatch = { [self] batch in
            self.applied.withLock { $0.append(contentsOf: batch.changeToApplied) }
            if let t = batch.timeline, let slowest = batch.changeToApplied.max() { self.timelines.withLock { $0.append((slowest, t)) } }
        }
        let assembly = BridgeAssembly(loaded: loaded, factories: factories, logger: logger, options: options)
        self.assembly = assembly
        await assembly.reconciler.onFirstSync { [self] in firstSync.withLock { $0 = .now } }
        running = Task { try? await assembly.run() }
    }

    /// Change-to-applied latencies recorded so far, oldest first.
    func applyLatencies() -> [Double] { applied.withLock { $0 } }

    /// The slowest batches since batch `from`, leg by leg in ms (`BENCH_DEBUG`): where a slow change waited.
    func slowestTimelines(from: Int = 0, count: Int = 8) -> String {
        let all = timelines.withLock { Array($0.dropFirst(from)) }
        return all.sorted { $0.slowest > $1.slowest }.prefix(count).map { s in
            let t = s.timeline
            return String(format: "%.2f ms = to batch %.2f + to thread %.2f + on thread %.2f + back %.2f",
                          s.slowest * 1000, t.toBatch * 1000, t.toThread * 1000, t.onThread * 1000, t.back * 1000)
        }.joined(separator: "\n      ")
    }

    /// Medians of each leg over the batches since `from`, in ms.
    func timelineMedians(from: Int = 0) -> String {
        let all = timelines.withLock { Array($0.dropFirst(from)) }.map(\.timeline)
        guard !all.isEmpty else { return "no timelines" }
        func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] * 1000 }
        return String(format: "to batch %.3f, to thread %.3f, on thread %.3f, back %.3f ms (%d batches)",
                      median(all.map(\.toBatch)), median(all.map(\.toThread)), median(all.map(\.onThread)), median(all.map(\.back)), all.count)
    }

    func stop() async {
        await assembly?.shutdown()
        await running?.value
        running = nil
        assembly = nil
    }

    func cleanup() async {
        await stop()
        if let id = cleanupID { Cleanup.shared.run(id) }
        cleanupID = nil
    }
}

/// An instances document: service → [(id, address, port, weight)].
func instancesJSON(_ services: [(String, [(id: String, address: String, port: Int, weight: Int?)])]) -> String {
    var out = "{\"services\": {"
    for (k, (service, list)) in services.enumerated() {
        if k > 0 { out += ", " }
        out += "\"\(service)\": ["
        for (j, i) in list.enumerated() {
            if j > 0 { out += ", " }
            out += "{\"id\": \"\(i.id)\", \"address\": \"\(i.address)\", \"port\": \(i.port)"
            if let w = i.weight { out += ", \"weight\": \(w)" }
            out += "}"
        }
        out += "]"
    }
    return out + "}}"
}

/// A synthetic instance address for backend `b`, instance `i` (10.x.y.z, never contacted).
func syntheticAddress(_ b: Int, _ i: Int) -> String { "10.\(b / 250).\(b % 250).\(i + 1)" }

/// Server name → row for `backend` (or all backends), via `client`.
func readyCount(_ rows: [ServerStateRow]) -> Int {
    rows.filter { $0.adminState & 0x3B == 0 && !($0.address == "127.0.0.1" && $0.port == 9) }.count
}

// MARK: Processes

/// HAProxy in master-worker mode (`-W -db -S master.sock`); a reload is SIGUSR2 to the master, as systemd does it.
final class MasterWorkerHAProxy: @unchecked Sendable {
    let dir: TemporaryDirectory
    let configPath: String
    let socketPath: String
    let masterSocket: String
    private var child: ChildProcess?
    private var cleanupID: Int?

    init(prefix: String = "db-bench-mw") throws {
        dir = try TemporaryDirectory(prefix: prefix)
        configPath = dir.file("haproxy.cfg")
        socketPath = dir.file("api.sock")
        masterSocket = dir.file("master.sock")
    }

    var pid: Int32? { child?.pid }

    func writeConfig(_ text: String) throws {
        try text.write(toFile: configPath + ".tmp", atomically: false, encoding: .utf8)
        guard rename(configPath + ".tmp", configPath) == 0 else { throw TestSupportError("rename failed") }
    }

    func start() async throws {
        guard let exe = which("haproxy") else { throw TestSupportError("haproxy is not installed (make deps installs it)") }
        let check = try await runCommand(exe, ["-c", "-q", "-f", configPath])
        guard check.status == 0 else { throw TestSupportError("haproxy -c: \(check.stderr)") }
        let c = try ChildProcess(name: "haproxy-mw", executable: exe, arguments: ["-W", "-db", "-f", configPath, "-S", masterSocket],
                                 output: dir.file("haproxy.log"))
        child = c
        let d = dir
        cleanupID = Cleanup.shared.add { c.stop(); d.remove() }
        let client = RuntimeClient(endpoint: .unix(path: socketPath), timeout: .milliseconds(500))
        defer { client.close() }
        try await eventually("master-worker HAProxy to answer", timeout: .seconds(30), every: .milliseconds(20)) {
            guard c.isRunning else {
                throw TestSupportError("haproxy exited: \((try? String(contentsOfFile: d.file("haproxy.log"), encoding: .utf8)) ?? "")")
            }
            return (try? await client.showInfo()) != nil
        }
        // The master's CLI answering means it runs its loop and handles SIGUSR2.
        let master = masterSocket
        try await eventually("the master CLI to list its workers", timeout: .seconds(10), every: .milliseconds(20)) {
            await onThread { unixRequest(path: master, "show proc\n")?.contains("worker") ?? false }
        }
    }

    func reload() {
        child?.signal(SIGUSR2)
    }

    /// The last lines HAProxy (master and workers) logged, for error messages.
    func logTail(_ lines: Int = 15) -> String {
        let text = (try? String(contentsOfFile: dir.file("haproxy.log"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    func stop() {
        if let id = cleanupID { Cleanup.shared.run(id) }
        cleanupID = nil
        child = nil
    }
}

/// Reads utime+stime (seconds, CLK_TCK 100) of `pid`.
func cpuSeconds(pid: Int32) -> Double? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = text.lastIndex(of: ")") else { return nil }
    // Fields after "comm)": state is field 3; utime/stime are fields 14/15 → indices 11/12 after the comm.
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 12, let u = Double(fields[11]), let s = Double(fields[12]) else { return nil }
    return (u + s) / 100
}

/// A `/proc/PID/status` field in kB (e.g. VmHWM, VmRSS).
func statusKB(pid: Int32, _ field: String) -> Double? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
        let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        if parts.count >= 2 { return Double(parts[1]) }
    }
    return nil
}

/// One request on a UNIX stream socket (non-interactive CLI: HAProxy answers and closes); nil on failure.
func unixRequest(path: String, _ text: String, timeoutMs: Int = 2000) -> String? {
    guard let fd = unixConnect(path) else { return nil }
    defer { close(fd) }
    var tv = timeval(tv_sec: timeoutMs / 1000, tv_usec: Int((timeoutMs % 1000) * 1000))
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    let payload = Array(text.utf8)
    guard payload.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == payload.count else { return nil }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n > 0 { out.append(contentsOf: buf[0..<n]); continue }
        if n < 0, errno == EINTR { continue }
        break
    }
    return String(decoding: out, as: UTF8.self)
}

/// A connected UNIX stream socket (blocking), or nil; the caller closes it.
func unixConnect(_ path: String) -> Int32? {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    var addr = sockaddr_un()
    addr.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
        close(fd)
        return nil
    }
    withUnsafeMutableBytes(of: &addr.sun_path) { raw in
        for (i, b) in bytes.enumerated() { raw[i] = b }
    }
    let rc = withUnsafePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard rc == 0 else {
        close(fd)
        return nil
    }
    return fd
}
