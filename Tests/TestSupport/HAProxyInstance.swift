import Foundation
import HAProxyRuntime
#if canImport(Glibc)
import Glibc
#endif

/// A real HAProxy 2.6 on loopback with its own admin socket and config, started and stopped by a test.
public final class HAProxyInstance: @unchecked Sendable {
    public struct BackendSpec: Sendable {
        public var name: String
        public var slots: Int
        public var prefix: String
        public var serverOptions: String
        public init(name: String, slots: Int, prefix: String = "slot", serverOptions: String = "") {
            self.name = name
            self.slots = slots
            self.prefix = prefix
            self.serverOptions = serverOptions
        }
    }

    public let directory: TemporaryDirectory
    public let socketPath: String
    public let configPath: String
    /// Frontend port per backend name (HTTP on 127.0.0.1).
    public private(set) var frontendPorts: [String: Int] = [:]
    private var child: ChildProcess?
    public let executable: String
    /// Started with `-W` (master-worker): `reload()` makes the master start a new worker from the config.
    public let masterWorker: Bool
    /// The master CLI (`-S`), in master-worker mode.
    public var masterSocketPath: String { directory.file("master.sock") }
    /// Further config files loaded after haproxy.cfg (`-f` each), e.g. the bridge's managed config.
    public let extraConfigFiles: [String]
    /// Extra command-line arguments, e.g. `-L <name>` (the local peer name of a `peers` section).
    public let extraArguments: [String]

    /// Writes the config and starts HAProxy; `extraConfig` replaces the generated backends when given (e.g. `render` output).
    public init(backends: [BackendSpec], backendsConfig: String? = nil, withFrontends: Bool = true, extraGlobal: String = "", extraDefaults: String = "", statsTimeout: String = "30s", masterWorker: Bool = false, extraConfigFiles: [String] = [], extraArguments: [String] = []) async throws {
        self.masterWorker = masterWorker
        self.extraConfigFiles = extraConfigFiles
        self.extraArguments = extraArguments
        guard let exe = which("haproxy") else { throw TestSupportError("haproxy is not installed (make deps installs it)") }
        executable = exe
        directory = try TemporaryDirectory(prefix: "db-haproxy")
        socketPath = directory.file("api.sock")
        configPath = directory.file("haproxy.cfg")
        var cfg = """
        global
            stats socket \(socketPath) mode 600 level admin
            stats timeout \(statsTimeout)
            pidfile \(directory.file("haproxy.pid"))
        \(extraGlobal)
        defaults
            mode http
            timeout connect 1s
            timeout client 10s
            timeout server 10s
        \(extraDefaults)

        """
        for b in backends where withFrontends {
            let port = try FreePort.allocate()
            frontendPorts[b.name] = port
            cfg += "frontend fe_\(b.name)\n    bind 127.0.0.1:\(port)\n    default_backend \(b.name)\n"
        }
        if let backendsConfig {
            cfg += backendsConfig
        } else {
            for b in backends {
                let opts = b.serverOptions.isEmpty ? "" : " \(b.serverOptions)"
                cfg += "backend \(b.name)\n    balance roundrobin\n    server-template \(b.prefix) 1-\(b.slots) 127.0.0.1:9\(opts) disabled\n"
            }
        }
        try cfg.write(toFile: configPath, atomically: true, encoding: .utf8)
        try await start()
    }

    public var endpoint: RuntimeEndpoint { .unix(path: socketPath) }
    public var pid: Int32? { child?.pid }

    /// Starts HAProxy (again) and waits until its socket answers.
    public func start() async throws {
        unlink(socketPath)
        unlink(masterSocketPath)
        let files = ([configPath] + extraConfigFiles).flatMap { ["-f", $0] }
        let master = masterWorker ? ["-W", "-S", masterSocketPath] : []
        child = try ChildProcess(name: "haproxy", executable: executable, arguments: master + ["-db"] + files + extraArguments, output: directory.file("haproxy.log"))
        let client = RuntimeClient(endpoint: endpoint, timeout: .milliseconds(500))
        defer { client.close() }
        try await eventually("HAProxy to answer on \(socketPath)", timeout: .seconds(10), every: .milliseconds(20)) {
            guard self.child?.isRunning == true else {
                let log = (try? String(contentsOfFile: self.directory.file("haproxy.log"), encoding: .utf8)) ?? ""
                throw TestSupportError("haproxy exited: \(log)")
            }
            return (try? await client.showInfo()) != nil
        }
    }

    /// Stops HAProxy; a later `start()` brings it back with every slot at its config defaults.
    public func stop() {
        child?.stop()
        child = nil
    }

    /// Reloads a master-worker HAProxy (SIGUSR2 to the master) and waits until a new worker owns the socket.
    public func reload() async throws {
        guard masterWorker, let child else { throw TestSupportError("reload needs a running master-worker HAProxy") }
        let before = try await currentWorkerPID()
        // A master still re-executing from the previous reload has no SIGUSR2 handler yet and drops the signal:
        // wait for its CLI, and still send the signal again every 2 s until a new worker answers.
        try await waitForMasterLoop()
        var lastSignal = ContinuousClock.now
        child.signal(SIGUSR2)
        try await eventually("a new worker after reload", timeout: .seconds(10), every: .milliseconds(10)) {
            if ContinuousClock.now - lastSignal > .seconds(2) {
                lastSignal = .now
                child.signal(SIGUSR2)
            }
            return (try? await self.currentWorkerPID()).map { $0 != before } ?? false
        }
    }

    /// Reloads through the master CLI's `reload` command (2.6 closes the connection without an answer).
    public func reloadViaMasterCLI() async throws {
        guard masterWorker else { throw TestSupportError("reload needs a running master-worker HAProxy") }
        let before = try await currentWorkerPID()
        try await waitForMasterLoop()
        try sendToMasterCLI("reload\n")
        try await eventually("a new worker after the master CLI reload", timeout: .seconds(10), every: .milliseconds(10)) {
            (try? await self.currentWorkerPID()).map { $0 != before } ?? false
        }
    }

    /// Waits until the master answers `show proc` on its CLI: it then runs its loop and handles signals.
    public func waitForMasterLoop() async throws {
        try await eventually("the master CLI to list its workers", timeout: .seconds(10), every: .milliseconds(5)) {
            (try? self.askMasterCLI("show proc\n").contains("worker")) ?? false
        }
    }

    /// A new connection to the master CLI socket; the caller closes it.
    private func connectMasterCLI() throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSupportError("socket failed") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in masterSocketPath.utf8.enumerated() { raw[i] = b } }
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard rc == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw TestSupportError("connect \(masterSocketPath): \(reason)")
        }
        return fd
    }

    /// One command on the master CLI (half-close, then read to the end).
    public func askMasterCLI(_ text: String) throws -> String {
        let fd = try connectMasterCLI()
        defer { close(fd) }
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        shutdown(fd, Int32(SHUT_WR))
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Writes `text` to the master CLI and waits for the master to close. While the master re-executes after a
    /// reload its socket refuses connections for a moment: retried for up to 5 s.
    public func sendToMasterCLI(_ text: String) throws {
        let deadline = ContinuousClock.now + .seconds(5)
        while true {
            do {
                return try sendToMasterCLIOnce(text)
            } catch {
                if ContinuousClock.now > deadline { throw error }
                usleep(5_000)
            }
        }
    }

    private func sendToMasterCLIOnce(_ text: String) throws {
        let fd = try connectMasterCLI()
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == bytes.count else {
            throw TestSupportError("write to the master CLI failed")
        }
        // The master acts on the command before it closes; wait for that close (bounded) rather than racing it.
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var buf = [UInt8](repeating: 0, count: 512)
        while buf.withUnsafeMutableBytes({ recv(fd, $0.baseAddress, $0.count, 0) }) > 0 {}
    }

    /// The pid answering on a new connection to the socket.
    public func currentWorkerPID() async throws -> Int {
        let client = RuntimeClient(endpoint: endpoint, timeout: .seconds(1))
        defer { client.close() }
        return try await client.showInfo().pid
    }

    public func restart() async throws {
        stop()
        try await start()
    }

    /// Servers of `backend` as HAProxy has them now, by name.
    public func servers(_ backend: String) async throws -> [String: ServerStateRow] {
        let client = RuntimeClient(endpoint: endpoint, timeout: .seconds(2))
        defer { client.close() }
        let rows = try await client.showServersState(backend: backend)
        var out: [String: ServerStateRow] = [:]
        for r in rows { out[r.server] = r }
        return out
    }

    /// Endpoints (`addr:port`) of servers that take traffic: ready (admin bits 0x3B clear).
    public func readyEndpoints(_ backend: String) async throws -> Set<String> {
        Set(try await servers(backend).values.filter { $0.adminState & 0x3B == 0 }.map { "\($0.address):\($0.port)" })
    }

    public func cleanup() {
        stop()
        directory.remove()
    }
}

/// Tiny HTTP backends (scripts/demo_backend.py) answering `hello from NAME`; `/slow/N` answers after N seconds.
public final class HTTPBackends: @unchecked Sendable {
    public private(set) var ports: [Int] = []
    private var children: [ChildProcess] = []

    public init(count: Int) async throws {
        for i in 0..<count {
            let port = try FreePort.allocate()
            let child = try ChildProcess(name: "backend-\(i + 1)", executable: which("python3") ?? "/usr/bin/python3",
                                         arguments: ["\(repositoryRoot)/scripts/demo_backend.py", String(port), "backend-\(i + 1)"])
            children.append(child)
            ports.append(port)
        }
        try await Self.waitAnswering(ports)
    }

    /// Waits until every port answers an HTTP request.
    static func waitAnswering(_ ports: [Int]) async throws {
        for port in ports {
            try await eventually("backend on port \(port)", timeout: .seconds(10), every: .milliseconds(20)) {
                (try? await httpGet("http://127.0.0.1:\(port)/", timeout: 1)) != nil
            }
        }
    }

    public func stop() {
        for c in children { c.stop() }
        children = []
    }
}

/// HTTP backends answered by one HAProxy process (`http-request return`), each with the body the Python backends
/// send (`hello from backend-N (127.0.0.1:PORT)`). For benches timing a change to the first request the new server
/// answers: a Python backend spends about a millisecond per request, which would be the instrument's time, not the
/// bridge's.
public final class FixedAnswerBackends: @unchecked Sendable {
    public let ports: [Int]
    let haproxy: HAProxyInstance

    public init(count: Int) async throws {
        var ports: [Int] = []
        var cfg = ""
        for i in 0..<count {
            let port = try FreePort.allocate()
            ports.append(port)
            cfg += "frontend backend\(i + 1)\n    bind 127.0.0.1:\(port)\n"
            cfg += "    http-request return status 200 content-type text/plain string \"hello from backend-\(i + 1) (127.0.0.1:\(port))\"\n"
        }
        self.ports = ports
        haproxy = try await HAProxyInstance(backends: [], backendsConfig: cfg, withFrontends: false)
        try await HTTPBackends.waitAnswering(ports)
    }

    public func stop() { haproxy.cleanup() }
}

/// A GET through curl; returns the status code and body, or throws when no HTTP answer arrived.
public func httpGet(_ url: String, timeout: Double = 2) async throws -> (status: Int, body: String) {
    let r = try await runCommand(which("curl") ?? "/usr/bin/curl",
                                 ["-s", "-m", String(timeout), "-o", "-", "-w", "\n%{http_code}", url], timeout: .seconds(Int64(timeout) + 5))
    guard r.status == 0 else { throw TestSupportError("curl \(url) exited \(r.status)") }
    var lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
    let code = Int(lines.popLast() ?? "") ?? 0
    return (code, lines.joined(separator: "\n"))
}
