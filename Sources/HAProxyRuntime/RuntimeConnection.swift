#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One interactive (`prompt` mode) Runtime API connection; blocking calls bounded by poll timeouts.
///
/// Only ever used from `RuntimeClient`'s serial queue.
final class RuntimeConnection {
    private(set) var fd: Int32
    /// Bytes received and not yet cut into answers (`RuntimeConnection+Streaming` reads it too).
    var buffer: [UInt8] = []
    var scanFrom = 0
    let timeoutMs: Int32
    /// Answers completed on this connection (for deciding whether a failure may be retried).
    private(set) var used = false

    static let separator: [UInt8] = [0x0A, 0x3E, 0x20]  // "\n> "

    init(endpoint: RuntimeEndpoint, timeout: Duration) throws(RuntimeError) {
        timeoutMs = Int32(clamping: max(1, timeout.milliseconds))
        fd = try Self.connect(endpoint, timeoutMs: timeoutMs)
        do {
            // Enter interactive mode: HAProxy answers `prompt` with a bare prompt.
            _ = try exchange(["prompt"])
        } catch {
            close()
            throw RuntimeError(kind: error.kind == .closed ? .connect : error.kind, message: "entering interactive mode on \(endpoint): \(error.message)")
        }
        used = false
    }

    deinit { close() }

    var isOpen: Bool { fd >= 0 }

    func close() {
        if fd >= 0 {
            _ = Glibc.close(fd)
            fd = -1
        }
    }

    /// True when the peer has closed the connection (or sent unsolicited bytes), checked without blocking.
    func peerClosed() -> Bool {
        guard fd >= 0 else { return true }
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let r = poll(&p, 1, 0)
        // Readable while idle means EOF (idle timeout, HAProxy restart) or stray bytes: either way, start afresh.
        return r != 0
    }

    /// Sends every line and returns one answer per line, pipelining writes and reads so neither side stalls.
    func exchange(_ lines: [String]) throws(RuntimeError) -> [String] {
        guard fd >= 0 else { throw RuntimeError(kind: .closed, message: "connection is closed") }
        var out: [UInt8] = []
        out.reserveCapacity(lines.reduce(0) { $0 + $1.utf8.count + 1 })
        for line in lines {
            out.append(contentsOf: line.utf8)
            out.append(0x0A)
        }
        var written = 0
        var answers: [String] = []
        answers.reserveCapacity(lines.count)
        var chunk = [UInt8](repeating: 0, count: 65536)
        while answers.count < lines.count {
            var p = pollfd(fd: fd, events: Int16(POLLIN) | (written < out.count ? Int16(POLLOUT) : 0), revents: 0)
            let r = poll(&p, 1, timeoutMs)
            if r < 0 {
                if errno == EINTR { continue }
                throw fail(.io, "poll: \(String(cString: strerror(errno)))", answers.count)
            }
            if r == 0 {
                throw fail(.timeout, "no answer within \(timeoutMs) ms (\(answers.count) of \(lines.count) answered)", answers.count)
            }
            if written < out.count, p.revents & Int16(POLLOUT) != 0 {
                let n = out.withUnsafeBytes { raw in
                    send(fd, raw.baseAddress!.advanced(by: written), out.count - written, Int32(MSG_NOSIGNAL))
                }
                if n < 0 {
                    if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
                        throw fail(.io, "write: \(String(cString: strerror(errno)))", answers.count)
                    }
                } else {
                    written += n
                }
            }
            if p.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n < 0 {
                    if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { continue }
                    throw fail(.io, "read: \(String(cString: strerror(errno)))", answers.count)
                }
                if n == 0 {
                    throw fail(.closed, "HAProxy closed the connection (\(answers.count) of \(lines.count) answered)", answers.count)
                }
                buffer.append(contentsOf: chunk[0..<n])
                extractAnswers(into: &answers)
                if answers.count > lines.count {
                    throw fail(.protocolViolation, "more answers than commands", lines.count)
                }
            }
        }
        if !buffer.isEmpty {
            throw fail(.protocolViolation, "unexpected bytes after the last answer", answers.count)
        }
        used = true
        return answers
    }

    /// Records that an answer was completed here (for calls that read the socket themselves).
    func markUsed() { used = true }

    func fail(_ kind: RuntimeError.Kind, _ message: String, _ completed: Int) -> RuntimeError {
        close()
        buffer.removeAll()
        scanFrom = 0
        return RuntimeError(kind: kind, message: message, completed: completed)
    }

    /// Cuts complete answers (text up to "\n> ") off the front of the buffer, at most `limit` of them.
    func extractAnswers(into answers: inout [String], limit: Int = .max) {
        var start = 0
        var i = max(0, scanFrom)
        var taken = 0
        let sep = Self.separator
        let count = buffer.count
        buffer.withUnsafeBufferPointer { b in
            while i + 2 < count, taken < limit {
                if b[i] == sep[0] && b[i + 1] == sep[1] && b[i + 2] == sep[2] {
                    // The answer is start..<i; a non-empty answer ends with its own newline, which is part of the separator region.
                    var end = i
                    if end > start && b[end - 1] == 0x0A { end -= 1 }
                    answers.append(String(decoding: UnsafeBufferPointer(rebasing: b[start..<end]), as: UTF8.self))
                    taken += 1
                    start = i + 3
                    i = start
                } else {
                    i += 1
                }
            }
        }
        if start > 0 { buffer.removeFirst(start) }
        // Where the next scan starts: bytes before it hold no separator (all of the rest when stopped at `limit`).
        scanFrom = max(0, min(i, count - 2) - start)
    }

    static func connect(_ endpoint: RuntimeEndpoint, timeoutMs: Int32) throws(RuntimeError) -> Int32 {
        switch endpoint {
        case .unix(let path):
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            let capacity = MemoryLayout.size(ofValue: addr.sun_path)
            guard !bytes.isEmpty, bytes.count < capacity else {
                throw RuntimeError(kind: .connect, message: "socket path \"\(path)\" is empty or longer than \(capacity - 1) bytes")
            }
            withUnsafeMutableBytes(of: &addr.sun_path) { raw in
                for (i, b) in bytes.enumerated() { raw[i] = b }
            }
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw RuntimeError(kind: .connect, message: "socket: \(String(cString: strerror(errno)))") }
            let len = socklen_t(MemoryLayout<sockaddr_un>.size)
            return try withUnsafePointer(to: &addr) { p throws(RuntimeError) -> Int32 in
                try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa throws(RuntimeError) -> Int32 in
                    try finishConnect(fd: fd, sa: sa, len: len, what: "unix:\(path)", timeoutMs: timeoutMs)
                }
            }
        case .tcp(let host, let port):
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            hints.ai_flags = AI_NUMERICSERV
            var result: UnsafeMutablePointer<addrinfo>?
            let rc = getaddrinfo(host, String(port), &hints, &result)
            guard rc == 0, let first = result else {
                throw RuntimeError(kind: .connect, message: "cannot resolve \(host): \(String(cString: gai_strerror(rc)))")
            }
            defer { freeaddrinfo(result) }
            var lastError = RuntimeError(kind: .connect, message: "no address for \(host)")
            var cursor: UnsafeMutablePointer<addrinfo>? = first
            while let ai = cursor {
                cursor = ai.pointee.ai_next
                let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
                guard fd >= 0, let sa = ai.pointee.ai_addr else { continue }
                do {
                    let connected = try finishConnect(fd: fd, sa: sa, len: ai.pointee.ai_addrlen, what: "tcp:\(host):\(port)", timeoutMs: timeoutMs)
                    var one: Int32 = 1
                    setsockopt(connected, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                    return connected
                } catch {
                    lastError = error
                }
            }
            throw lastError
        }
    }

    /// Non-blocking connect bounded by the timeout; leaves the socket non-blocking.
    private static func finishConnect(fd: Int32, sa: UnsafePointer<sockaddr>, len: socklen_t, what: String, timeoutMs: Int32) throws(RuntimeError) -> Int32 {
        let flags = fcntl(fd, F_GETFL, 0)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        if Glibc.connect(fd, sa, len) != 0 {
            guard errno == EINPROGRESS || errno == EAGAIN else {
                let message = String(cString: strerror(errno))
                _ = Glibc.close(fd)
                throw RuntimeError(kind: .connect, message: "\(what): \(message)")
            }
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            var r: Int32
            repeat { r = poll(&p, 1, timeoutMs) } while r < 0 && errno == EINTR
            if r == 0 {
                _ = Glibc.close(fd)
                throw RuntimeError(kind: .timeout, message: "\(what): connect timed out after \(timeoutMs) ms")
            }
            var soError: Int32 = 0
            var soLen = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &soLen)
            if r < 0 || soError != 0 {
                let message = String(cString: strerror(soError != 0 ? soError : errno))
                _ = Glibc.close(fd)
                throw RuntimeError(kind: .connect, message: "\(what): \(message)")
            }
        }
        return fd
    }
}
