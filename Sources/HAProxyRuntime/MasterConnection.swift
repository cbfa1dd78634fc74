import Basics
#if canImport(Glibc)
import Glibc
#endif

/// One prompt-mode connection to the master CLI; blocking calls bounded by poll timeouts. Used by `MasterCLI` only.
final class MasterConnection {
    private var fd: Int32
    private let timeoutMs: Int32
    private static let prompt = Array("master> ".utf8)

    init(endpoint: RuntimeEndpoint, timeout: Duration) throws(RuntimeError) {
        let ms = timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000
        timeoutMs = Int32(clamping: max(1, ms))
        fd = try RuntimeConnection.connect(endpoint, timeoutMs: timeoutMs)
        do {
            _ = try exchange("prompt")
        } catch {
            close()
            throw RuntimeError(kind: error.kind == .closed ? .connect : error.kind, message: "master CLI \(endpoint): \(error.message)")
        }
    }

    deinit { close() }

    func close() {
        if fd >= 0 {
            _ = Glibc.close(fd)
            fd = -1
        }
    }

    func showProc() throws(RuntimeError) -> MasterProcessList {
        let answer = try exchange("show proc")
        guard let list = MasterProcessParser.parse(answer) else {
            throw RuntimeError(kind: .protocolViolation, message: "unexpected answer to show proc: \"\(answer.prefix(120))\"")
        }
        return list
    }

    /// Blocks until the master closes the connection, sends anything unexpected, or `wake` becomes readable.
    func waitForClose(orReadable wake: Int32) {
        guard fd >= 0 else { return }
        var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
        while true {
            let r = poll(&fds, 2, -1)
            if r < 0, errno == EINTR { continue }
            return
        }
    }

    /// Sends one command and reads up to the next `master> ` prompt.
    private func exchange(_ line: String) throws(RuntimeError) -> String {
        let out = Array((line + "\n").utf8)
        let sent = out.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == out.count else { throw RuntimeError(kind: .io, message: "write: \(String(cString: strerror(errno)))") }
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 8192)
        while !buffer.ends(with: Self.prompt) {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let r = poll(&p, 1, timeoutMs)
            if r < 0, errno == EINTR { continue }
            if r == 0 { throw RuntimeError(kind: .timeout, message: "no answer to \(line) within \(timeoutMs) ms") }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0, errno == EINTR || errno == EAGAIN { continue }
            if n <= 0 { throw RuntimeError(kind: .closed, message: "the master closed the connection") }
            buffer.append(contentsOf: chunk[0..<n])
            if buffer.count > 1 << 20 { throw RuntimeError(kind: .protocolViolation, message: "answer to \(line) longer than 1 MB") }
        }
        return String(decoding: buffer.dropLast(Self.prompt.count), as: UTF8.self)
    }
}

/// Parses `show proc` (2.6): a header, the master row, then `# workers` rows until the next `#` line.
public enum MasterProcessParser {
    public static func parse(_ answer: String) -> MasterProcessList? {
        var master: (pid: Int, reloads: Int)?
        var workers: [(pid: Int, reloads: Int)] = []
        var section = ""
        for line in answer.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("#") {
                section = line.hasPrefix("#<PID>") ? "" : String(line.dropFirst()).trimmingWhitespace()
                continue
            }
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 3, let pid = Int(f[0]), let reloads = Int(f[2]) else { continue }
            if f[1] == "master" { master = (pid, reloads) } else if f[1] == "worker", section == "workers" { workers.append((pid, reloads)) }
        }
        guard let master else { return nil }
        workers.sort { $0.reloads < $1.reloads || ($0.reloads == $1.reloads && $0.pid > $1.pid) }
        return MasterProcessList(masterPID: master.pid, reloads: master.reloads, workers: workers)
    }
}

extension Array where Element == UInt8 {
    func ends(with suffix: [UInt8]) -> Bool {
        count >= suffix.count && self[(count - suffix.count)...].elementsEqual(suffix)
    }
}
