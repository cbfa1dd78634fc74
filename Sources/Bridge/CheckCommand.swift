import Basics
import DiscoveryCore
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
        let argv = arguments.map { $0.replacingAll("{file}", with: candidate) }
        guard let first = argv.first else { throw ManagedConfigError("check_command is empty") }
        let outcome: ChildProcess.Outcome
        let output: [UInt8]
        do {
            (outcome, output) = try ChildProcess.run(Self.resolve(first), argv, timeout: timeout)
        } catch {
            throw ManagedConfigError("check_command \(first): cannot start: \(error)")
        }
        switch outcome {
        case .exited(0):
            return
        case .timedOut:
            throw ManagedConfigError("check_command \(first) did not finish within \(DurationText.format(timeout))")
        case .exited(let status):
            throw ManagedConfigError("check_command \(first) exited \(status): \(Self.summary(output))")
        case .signalled(let signal):
            throw ManagedConfigError("check_command \(first) killed by signal \(signal): \(Self.summary(output))")
        }
    }

    /// A bare name is looked up on PATH (plus the sbin folders, where `haproxy` lives).
    static func resolve(_ name: String) -> String {
        if name.contains("/") { return name }
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin", "/usr/local/sbin"] {
            let candidate = "\(dir)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return name
    }

    /// The end of what a check printed, one line: HAProxy's alerts when there are any (its notices of version and
    /// path say nothing about what is wrong).
    static func summary(_ output: [UInt8]) -> String {
        let lines = String(decoding: output, as: UTF8.self).split(whereSeparator: \.isNewline).map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
        let alerts = lines.filter { $0.contains("[ALERT]") }
        return (alerts.isEmpty ? lines : alerts).suffix(6).joined(separator: " | ")
    }
}
