import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Directory of the Python fakes (`Tests/Fakes`).
public let fakesDirectory: String = "\(repositoryRoot)/Tests/Fakes"

/// A child process that reports its port as a `PORT <n>` line on stdout (the Python fakes do), killed by `stop()`.
public final class ReportingProcess: @unchecked Sendable {
    public let process = Process()
    let stdout = Pipe()
    let stderrFile: String
    public let name: String

    public init(name: String, executable: String, arguments: [String]) throws {
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
    public func readPort(timeout: Double = 15) throws -> Int {
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
        throw TestSupportError("\(name) did not report its port: \(stderrText())")
    }

    public func stderrText() -> String {
        (try? String(contentsOfFile: stderrFile, encoding: .utf8)).map { String($0.suffix(2000)) } ?? ""
    }

    public func stop() {
        ChildProcess.terminate(process)
        try? FileManager.default.removeItem(atPath: stderrFile)
    }
}

/// True when something accepts TCP connections on 127.0.0.1:port.
public func portAccepts(_ port: Int) -> Bool {
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

/// A moto_server on 127.0.0.1 for one test.
public final class Moto: @unchecked Sendable {
    public let child: ReportingProcess
    public let port: Int
    public var endpoint: String { "http://127.0.0.1:\(port)" }

    public init() throws {
        var lastError = ""
        for _ in 0..<3 {
            let port = try FreePort.allocate()
            let child = try ReportingProcess(name: "moto", executable: "moto_server", arguments: ["-H", "127.0.0.1", "-p", "\(port)"])
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
        throw TestSupportError("moto_server did not start (install it with: pip install 'moto[server]' boto3): \(lastError)")
    }

    /// moto keeps nothing worth a graceful stop, and a child of a Swift process starts with SIGTERM blocked.
    public func stop() {
        if child.process.processIdentifier > 0 { kill(child.process.processIdentifier, SIGKILL) }
        child.stop()
    }

    /// Runs `ec2_seed.py` operations; returns one parsed JSON object per operation.
    @discardableResult
    public func seed(_ ops: [[String: Any]], timeout: Double = 240) throws -> [[String: Any]] {
        let json = String(decoding: try JSONSerialization.data(withJSONObject: ops), as: UTF8.self)
        let out = try runTool("python3", [fakesDirectory + "/ec2_seed.py", endpoint, json], timeout: timeout)
        return out.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
    }

    public func run(region: String, reservations: Int = 1, count: Int = 1, tags: [String: String], privateIP: String? = nil) throws -> [String] {
        var op: [String: Any] = ["op": "run", "region": region, "reservations": reservations, "count": count, "tags": tags]
        if let privateIP { op["private_ip"] = privateIP }
        return (try seed([op]).first?["ids"] as? [String]) ?? []
    }
}

/// Runs a tool to completion within `timeout` seconds and returns its stdout; throws with stderr on failure.
public func runTool(_ tool: String, _ args: [String], timeout: Double) throws -> String {
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
        throw TestSupportError("\(tool) timed out after \(timeout)s")
    }
    let out = (try? String(contentsOfFile: outFile, encoding: .utf8)) ?? ""
    guard p.terminationStatus == 0 else {
        let err = String(decoding: errPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        throw TestSupportError("\(tool) failed (\(p.terminationStatus)): \(err.suffix(2000))")
    }
    return out
}

