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
        var dump = ServersStateDump()
        var backends: [String: [String: LiveServer]] = [:]
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
            let taken: (backends: [(name: String, servers: [String: LiveServer])], ended: Bool)
            do { taken = try dump.take(from: self) } catch { throw fail(error.kind, error.message, 0) }
            for backend in taken.backends {
                // A backend's rows come together; should one come twice, its servers are merged.
                if backends[backend.name] == nil { backends[backend.name] = backend.servers } else { backends[backend.name]?.merge(backend.servers) { _, new in new } }
            }
            guard taken.ended else { continue }
            guard buffer.isEmpty else { throw fail(.protocolViolation, "unexpected bytes after the last answer", 0) }
            markUsed()
            return (info ?? "", backends)
        }
    }
}
