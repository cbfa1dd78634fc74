#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The live read as one blocking call: `show info`, then `show servers state` parsed line by line while HAProxy is
/// still writing the rest of it (about 700 KB at 10,000 servers), so parsing costs no time after the dump ends.
extension RuntimeConnection {
    /// Sends `show info` and `show servers state`; returns the info answer's text and the servers by backend.
    func readLive() throws(RuntimeError) -> (info: String, backends: [String: [String: LiveServer]]) {
        guard isOpen else { throw RuntimeError(kind: .closed, message: "connection is closed") }
        let out = Array("show info\n\(ServersStateReader.command)\n".utf8)
        var written = 0
        var info: String?
        var reader = ServersStateReader()
        var backends: [String: [String: LiveServer]] = [:]
        // Rows come backend by backend: one backend's servers are gathered, then stored under its name once.
        var current: String?
        var servers: [String: LiveServer] = [:]
        func flush() {
            guard let name = current, !servers.isEmpty else { return }
            if backends[name] == nil { backends[name] = servers } else { backends[name]?.merge(servers) { _, new in new } }
            servers = [:]
        }
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            var p = pollfd(fd: fd, events: Int16(POLLIN) | (written < out.count ? Int16(POLLOUT) : 0), revents: 0)
            let r = poll(&p, 1, timeoutMs)
            if r < 0 {
                if errno == EINTR { continue }
                throw fail(.io, "poll: \(String(cString: strerror(errno)))", 0)
            }
            if r == 0 { throw fail(.timeout, "no answer within \(timeoutMs) ms (reading show servers state)", 0) }
            if written < out.count, p.revents & Int16(POLLOUT) != 0 { written += try sendSome(out, from: written, completed: 0) }
            guard p.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 else { continue }
            guard try receiveSome(&chunk, completed: 0) else { continue }
            if info == nil {
                guard let text = takeAnswer() else { continue }
                info = text
            }
            let ended: Bool
            do {
                ended = try takeLines { line throws(RuntimeParseError) in
                    guard let row = try reader.read(line) else { return }
                    if row.backend != current {
                        flush()
                        current = row.backend
                    }
                    servers[row.server] = LiveServer(row: row)
                }
                if ended { try reader.finish() }
            } catch {
                throw fail(.unexpectedAnswer, error.description, 0)
            }
            guard ended else { continue }
            flush()
            guard buffer.isEmpty else { throw fail(.protocolViolation, "unexpected bytes after the last answer", 0) }
            markUsed()
            return (info ?? "", backends)
        }
    }
}
