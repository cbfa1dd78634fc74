import DiscoveryCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `haproxy.check_command`: the operator's check of a candidate managed file, run before it is installed.
///
/// Arguments are passed as given (no shell); `{file}` in any of them is replaced by the candidate's path. The check
/// is bounded in time and its output is kept (the end of it) for the error that reports a failure.
public struct CheckCommand: Sendable {
    public var arguments: [String]
    public var timeout: Duration

    public init(arguments: [String], timeout: Duration = .seconds(30)) {
        self.arguments = arguments
        self.timeout = timeout
    }

    /// Runs the check on `candidate`; blocking, so call it off Swift's cooperative threads.
    public func run(candidate: String) throws(ManagedConfigError) {
        let argv = arguments.map { $0.replacingOccurrences(of: "{file}", with: candidate) }
        guard let first = argv.first else { throw ManagedConfigError("check_command is empty") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.resolve(first))
        process.arguments = Array(argv.dropFirst())
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        do {
            try process.run()
        } catch {
            throw ManagedConfigError("check_command \(first): cannot start: \(error.localizedDescription)")
        }
        // Drained while it runs, so a chatty check cannot fill the pipe and stall.
        let collected = OutputTail()
        let reader = Thread {
            let handle = output.fileHandleForReading
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                collected.append(chunk)
            }
        }
        reader.start()
        let ms = Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        if exited.wait(timeout: .now() + .milliseconds(ms)) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw ManagedConfigError("check_command \(first) did not finish within \(DurationText.format(timeout))")
        }
        process.waitUntilExit()
        collected.waitForEnd(reader)
        let status = process.terminationStatus
        guard process.terminationReason == .exit, status == 0 else {
            let how = process.terminationReason == .exit ? "exited \(status)" : "killed by signal \(status)"
            throw ManagedConfigError("check_command \(first) \(how): \(collected.text)")
        }
    }

    /// A bare name is looked up on PATH (plus the sbin folders, where `haproxy` lives).
    static func resolve(_ name: String) -> String {
        if name.contains("/") { return name }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin", "/usr/local/sbin"] {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return name
    }
}

/// The last few kilobytes a check printed, one line.
private final class OutputTail: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()

    func append(_ chunk: Data) {
        lock.lock()
        data.append(chunk)
        if data.count > 8192 { data = data.suffix(4096) }
        lock.unlock()
    }

    func waitForEnd(_ reader: Thread) {
        // The reader ends at EOF, which comes once the check (and anything it started) closed the pipe.
        let deadline = Date().addingTimeInterval(2)
        while !reader.isFinished, Date() < deadline { usleep(1_000) }
    }

    var text: String {
        lock.lock()
        defer { lock.unlock() }
        let s = String(decoding: data, as: UTF8.self)
        let lines = s.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        // HAProxy's own notices (version, path) say nothing about what is wrong: its alerts do, when there are any.
        let alerts = lines.filter { $0.contains("[ALERT]") }
        return (alerts.isEmpty ? lines : alerts).suffix(6).joined(separator: " | ")
    }
}
