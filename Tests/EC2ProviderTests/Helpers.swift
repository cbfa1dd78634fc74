import DiscoveryCore
@testable import EC2Provider
import Foundation
import Logging
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Directory of the Python fakes (`Tests/Fakes`).
let fakesDirectory: String = {
    let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    return here.deletingLastPathComponent().appendingPathComponent("Fakes").path
}()

struct HelperError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// A child process started by a test, killed by `stop()` (idempotent).
final class ChildProcess: @unchecked Sendable {
    let process = Process()
    let stdout = Pipe()
    let stderrFile: String
    let name: String

    init(name: String, executable: String, arguments: [String]) throws {
        self.name = name
        stderrFile = NSTemporaryDirectory() + "ec2test-\(name)-\(UUID().uuidString).log"
        _ = FileManager.default.createFile(atPath: stderrFile, contents: nil)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
        process.standardOutput = stdout
        process.standardError = FileHandle(forWritingAtPath: stderrFile)
        try process.run()
    }

    /// Reads stdout until a line `PORT <n>` appears (the Python fakes print it), within `timeout` seconds.
    func readPort(timeout: Double = 15) throws -> Int {
        let fd = stdout.fileHandleForReading.fileDescriptor
        var buffer: [UInt8] = []
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 100) >= 0 else { break }
            if pfd.revents & Int16(POLLIN | POLLHUP) != 0 {
                var byte: UInt8 = 0
                let n = read(fd, &byte, 1)
                if n <= 0 { break }
                if byte == UInt8(ascii: "\n") {
                    let line = String(decoding: buffer, as: UTF8.self)
                    if line.hasPrefix("PORT "), let p = Int(line.dropFirst(5)) { return p }
                    buffer = []
                } else {
                    buffer.append(byte)
                }
            }
            if !process.isRunning { break }
        }
        throw HelperError("\(name) did not report its port: \(stderrText())")
    }

    func stderrText() -> String {
        (try? String(contentsOfFile: stderrFile, encoding: .utf8)).map { String($0.suffix(2000)) } ?? ""
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            let deadline = Date().addingTimeInterval(3)
            while process.isRunning, Date() < deadline { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: stderrFile)
    }
}

/// A port that was free a moment ago on 127.0.0.1.
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HelperError("socket failed") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sp in
            bind(fd, sp, len) == 0 && getsockname(fd, sp, &len) == 0
        }
    }
    guard ok else { throw HelperError("bind failed") }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// True when something accepts TCP connections on 127.0.0.1:port.
func portAccepts(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}

func which(_ tool: String) -> Bool {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    return path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") }
}

/// A moto_server on 127.0.0.1 for one test.
final class Moto: @unchecked Sendable {
    let child: ChildProcess
    let port: Int
    var endpoint: String { "http://127.0.0.1:\(port)" }

    init() throws {
        guard which("moto_server") else {
            throw HelperError("moto_server not found on PATH; install it with: pip install 'moto[server]' boto3")
        }
        var lastError = ""
        for _ in 0..<3 {
            let port = try freePort()
            let child = try ChildProcess(name: "moto", executable: "moto_server", arguments: ["-H", "127.0.0.1", "-p", "\(port)"])
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline, child.process.isRunning, !portAccepts(port) { usleep(100_000) }
            if child.process.isRunning, portAccepts(port) {
                self.child = child
                self.port = port
                return
            }
            lastError = child.stderrText()
            child.stop()
        }
        throw HelperError("moto_server did not start: \(lastError)")
    }

    func stop() { child.stop() }

    /// Runs `ec2_seed.py` operations; returns one parsed JSON object per operation.
    @discardableResult
    func seed(_ ops: [[String: Any]], timeout: Double = 240) throws -> [[String: Any]] {
        let json = String(decoding: try JSONSerialization.data(withJSONObject: ops), as: UTF8.self)
        let out = try runTool("python3", [fakesDirectory + "/ec2_seed.py", endpoint, json], timeout: timeout)
        return out.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
    }

    func run(region: String, reservations: Int = 1, count: Int = 1, tags: [String: String], privateIP: String? = nil) throws -> [String] {
        var op: [String: Any] = ["op": "run", "region": region, "reservations": reservations, "count": count, "tags": tags]
        if let privateIP { op["private_ip"] = privateIP }
        return (try seed([op]).first?["ids"] as? [String]) ?? []
    }
}

/// Runs a tool to completion within `timeout` seconds and returns its stdout; throws with stderr on failure.
func runTool(_ tool: String, _ args: [String], timeout: Double) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = [tool] + args
    let outFile = NSTemporaryDirectory() + "ec2tool-\(UUID().uuidString)"
    _ = FileManager.default.createFile(atPath: outFile, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: outFile) }
    p.standardOutput = FileHandle(forWritingAtPath: outFile)
    let errPipe = Pipe()
    p.standardError = errPipe
    try p.run()
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning, Date() < deadline { usleep(20_000) }
    if p.isRunning {
        p.terminate()
        p.waitUntilExit()
        throw HelperError("\(tool) timed out after \(timeout)s")
    }
    let out = (try? String(contentsOfFile: outFile, encoding: .utf8)) ?? ""
    guard p.terminationStatus == 0 else {
        let err = String(decoding: errPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        throw HelperError("\(tool) failed (\(p.terminationStatus)): \(err.suffix(2000))")
    }
    return out
}

/// Simple blocking HTTP calls to the fakes' control endpoints (curl CLI, bounded).
func control(_ url: String, method: String = "GET") throws -> String {
    try runTool("curl", ["-sS", "--max-time", "10", "-X", method, url], timeout: 15)
}

/// Records everything a provider reports.
actor RecordingSink: ProviderSink {
    private(set) var updates: [ProviderUpdate] = []
    private(set) var successes = 0
    private(set) var failures: [String] = []

    func publish(_ update: ProviderUpdate) { updates.append(update) }
    func reportSuccess(provider: String) { successes += 1 }
    func reportFailure(provider: String, error: String) { failures.append(error) }

    var last: ProviderUpdate? { updates.last }
    func snapshot() -> (updates: Int, successes: Int, failures: [String]) { (updates.count, successes, failures) }
}

/// Polls `condition` every 50 ms until it holds or `timeout` seconds pass.
func eventually(_ timeout: Double = 20, _ what: String, file: StaticString = #filePath, line: UInt = #line,
                _ condition: () async -> Bool) async {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if await condition() { return }
        try? await Task.sleep(for: .milliseconds(50))
    }
    XCTFail("timed out after \(timeout)s waiting for: \(what)", file: file, line: line)
}

/// A LogHandler that keeps every rendered line (message + metadata) for assertions.
final class CapturingLogHandler: LogHandler, @unchecked Sendable {
    final class Store: @unchecked Sendable {
        private let lock = NSLock()
        private var lines: [String] = []
        func append(_ s: String) { lock.lock(); lines.append(s); lock.unlock() }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
    }

    let store: Store
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    init(store: Store) { self.store = store }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = self.metadata.merging(event.metadata ?? [:]) { $1 }
        let meta = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let error = event.error.map { " error=\($0)" } ?? ""
        store.append("\(event.level) \(event.message) \(meta)\(error)")
    }
}

/// Runs a provider in a task until `stop()`.
final class RunningProvider: @unchecked Sendable {
    let task: Task<Void, Never>
    let sink: RecordingSink

    init(_ provider: any DiscoveryProvider, sink: RecordingSink = RecordingSink()) {
        self.sink = sink
        task = Task { try? await provider.run(sink: sink) }
    }

    func stop() async {
        task.cancel()
        _ = await task.value
    }
}
