import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// How one request through a frontend ended.
public enum HTTPLoadOutcome: Sendable, Equatable {
    case ok
    case status(Int)
    case refused
    case reset
    case timeout
    case other(Int32)
}

/// Constant request load on a loopback frontend: `threads` loops of HTTP/1.0 GETs, each over a fresh connection,
/// counting every kind of failure. Stopped by `stop()` (bounded: requests time out after `timeoutMs`).
public final class HTTPLoad: Sendable {
    public let port: Int
    let threads: Int
    let timeoutMs: Int
    private let running = Atomic<Bool>(true)
    private let finished = Atomic<Int>(0)
    private let counts = Mutex<[String: Int]>([:])
    /// Every outcome in order, with its time (for "the first accepted request" questions).
    private let log = Mutex<[(ContinuousClock.Instant, HTTPLoadOutcome)]>([])

    public init(port: Int, threads: Int, timeoutMs: Int = 5000) {
        self.port = port
        self.threads = threads
        self.timeoutMs = timeoutMs
        for _ in 0..<threads {
            let t = Thread { [self] in
                while running.load(ordering: .relaxed) {
                    let outcome = Self.get(port: port, timeoutMs: timeoutMs)
                    let key: String
                    switch outcome {
                    case .ok: key = "ok"
                    case .status(let c): key = "http \(c)"
                    case .refused: key = "refused"
                    case .reset: key = "reset"
                    case .timeout: key = "timeout"
                    case .other(let e): key = "errno \(e)"
                    }
                    counts.withLock { $0[key, default: 0] += 1 }
                    log.withLock { $0.append((.now, outcome)) }
                    // A refused connect fails at once: do not spin while nothing listens.
                    if outcome == .refused { usleep(1_000) }
                }
                finished.add(1, ordering: .relaxed)
            }
            t.start()
        }
    }

    public var ok: Int { counts.withLock { $0["ok"] ?? 0 } }
    public var failed: Int { counts.withLock { $0.filter { $0.key != "ok" }.values.reduce(0, +) } }
    public var breakdown: String { counts.withLock { $0.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") } }
    public var outcomes: [(ContinuousClock.Instant, HTTPLoadOutcome)] { log.withLock { $0 } }

    /// Forgets the counts so far (e.g. the refusals while nothing listened yet).
    public func reset() {
        counts.withLock { $0 = [:] }
        log.withLock { $0 = [] }
    }

    public func stop() async {
        running.store(false, ordering: .relaxed)
        let deadline = ContinuousClock.now + .milliseconds(timeoutMs + 2000)
        while finished.load(ordering: .relaxed) < threads, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// One HTTP/1.0 GET over a fresh loopback connection, blocking.
    public static func get(port: Int, path: String = "/", timeoutMs: Int) -> HTTPLoadOutcome {
        fetch(port: port, path: path, timeoutMs: timeoutMs).outcome
    }

    /// Like `get`, also returning the body of a 200 answer (empty otherwise).
    public static func fetch(port: Int, path: String = "/", timeoutMs: Int) -> (outcome: HTTPLoadOutcome, body: String) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return (.other(errno), "") }
        defer { close(fd) }
        var tv = timeval(tv_sec: timeoutMs / 1000, tv_usec: Int((timeoutMs % 1000) * 1000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        func classify(_ e: Int32) -> (outcome: HTTPLoadOutcome, body: String) {
            switch e {
            case ECONNREFUSED: return (.refused, "")
            case ECONNRESET, EPIPE: return (.reset, "")
            case EAGAIN, ETIMEDOUT: return (.timeout, "")
            default: return (.other(e), "")
            }
        }
        if rc != 0 { return classify(errno) }
        let request = Array("GET \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        if request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) != request.count { return classify(errno) }
        var response: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { response.append(contentsOf: buf[0..<n]); continue }
            if n == 0 { break }
            if errno == EINTR { continue }
            return classify(errno)
        }
        guard response.count > 12 else { return (.reset, "") }
        let statusLine = String(decoding: response.prefix(40), as: UTF8.self).split(separator: " ")
        guard statusLine.count >= 2, let code = Int(statusLine[1]) else { return (.other(-1), "") }
        guard code == 200 else { return (.status(code), "") }
        let separator = Array("\r\n\r\n".utf8)
        let start = response.indices.dropLast(separator.count - 1).first { response[$0..<$0 + separator.count].elementsEqual(separator) }
        return (.ok, start.map { String(decoding: response[($0 + separator.count)...], as: UTF8.self) } ?? "")
    }
}
