import DiscoveryCore
import Foundation
import HAProxyRuntime
#if canImport(Glibc)
import Glibc
#endif

/// Failures of the test scaffolding itself, with what was being waited for.
public struct TestSupportError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A scratch folder removed by `remove()`; tests call it in tearDown.
public final class TemporaryDirectory: @unchecked Sendable {
    public let path: String

    public init(prefix: String = "db-test") throws {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ buf in buf.baseAddress.flatMap { mkdtemp($0) } }) else {
            throw TestSupportError("mkdtemp failed: \(String(cString: strerror(errno)))")
        }
        path = String(cString: made)
    }

    public func file(_ name: String) -> String { "\(path)/\(name)" }

    public func write(_ name: String, _ text: String) throws {
        try text.write(toFile: file(name), atomically: true, encoding: .utf8)
    }

    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Loopback ports the kernel says are free right now.
public enum FreePort {
    public static func allocate() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSupportError("socket failed") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw TestSupportError("bind failed") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}

/// Polls `condition` until it holds or `timeout` passes; the failure names what was awaited.
public func eventually(
    _ what: String, timeout: Duration = .seconds(5), every: Duration = .milliseconds(5),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    var lastError: (any Error)?
    while ContinuousClock.now < deadline {
        do {
            if try await condition() { return }
        } catch {
            lastError = error
        }
        try await Task.sleep(for: every)
    }
    throw TestSupportError("timed out after \(timeout) waiting for: \(what)\(lastError.map { " (last error: \($0))" } ?? "")")
}

/// The repository root, found from this file's location.
public let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

/// A child process stopped (SIGTERM, then SIGKILL) by `stop()`; tests call it in tearDown.
public final class ChildProcess: @unchecked Sendable {
    public let process = Process()
    public let name: String

    public init(name: String, executable: String, arguments: [String], environment: [String: String]? = nil, output: String? = nil) throws {
        self.name = name
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let output {
            _ = FileManager.default.createFile(atPath: output, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
            process.standardOutput = handle
            process.standardError = handle
        } else {
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
        }
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    public func signal(_ sig: Int32) {
        if process.processIdentifier > 0, Self.alive(process.processIdentifier) { kill(process.processIdentifier, sig) }
    }

    /// Waits up to `timeout` for exit; returns the exit status or nil if still running.
    public func waitForExit(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return process.isRunning ? nil : process.terminationStatus
    }

    public func stop() { Self.terminate(process) }

    /// SIGTERM, up to 3 s to exit, then SIGKILL. Not `process.isRunning`: a process that re-executes itself
    /// (HAProxy's master on reload) can look gone to Foundation while it still runs, so the kernel is asked instead.
    public static func terminate(_ process: Process) {
        let pid = process.processIdentifier
        if pid > 0, alive(pid) {
            kill(pid, SIGTERM)
            let deadline = Date().addingTimeInterval(3)
            while alive(pid), Date() < deadline { usleep(10_000) }
            if alive(pid) { kill(pid, SIGKILL) }
        }
        if process.isRunning { process.waitUntilExit() }
    }

    /// True while `pid` exists and is not a zombie.
    public static func alive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
        return state != "Z" && state != "X"
    }
}

/// Runs a command to completion (bounded) and returns its exit status and output.
public func runCommand(_ executable: String, _ arguments: [String], timeout: Duration = .seconds(30), environment: [String: String]? = nil) async throws -> (status: Int32, stdout: String, stderr: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    if let environment { p.environment = environment }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = FileHandle.nullDevice
    try p.run()
    let readOut = Task.detached { out.fileHandleForReading.readDataToEndOfFile() }
    let readErr = Task.detached { err.fileHandleForReading.readDataToEndOfFile() }
    let deadline = ContinuousClock.now + timeout
    while p.isRunning {
        if ContinuousClock.now > deadline {
            kill(p.processIdentifier, SIGKILL)
            throw TestSupportError("\(executable) \(arguments.joined(separator: " ")) did not finish within \(timeout)")
        }
        try await Task.sleep(for: .milliseconds(5))
    }
    let o = await readOut.value, e = await readErr.value
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

/// Finds an executable on PATH.
public func which(_ name: String) -> String? {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(separator: ":") + ["/usr/sbin", "/sbin"] {
        let candidate = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}
