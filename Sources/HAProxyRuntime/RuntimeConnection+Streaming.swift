#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Non-blocking steps of a connection, for `BatchStreamer`, which drives one or two connections from one poll loop
/// and so cannot let any of them block.
extension RuntimeConnection {
    /// Sends as much of `out[offset...]` as the socket takes now; returns the number of bytes sent.
    func sendSome(_ out: [UInt8], from offset: Int, completed: Int) throws(RuntimeError) -> Int {
        guard fd >= 0 else { throw RuntimeError(kind: .closed, message: "connection is closed", completed: completed) }
        var sent = 0
        while offset + sent < out.count {
            let n = out.withUnsafeBytes { raw in
                send(fd, raw.baseAddress!.advanced(by: offset + sent), out.count - offset - sent, Int32(MSG_NOSIGNAL))
            }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { break }
                throw fail(.io, "write: \(String(cString: strerror(errno)))", completed)
            }
            sent += n
        }
        return sent
    }

    /// Appends what has arrived to the buffer; false when nothing was there.
    func receiveSome(_ chunk: inout [UInt8], completed: Int) throws(RuntimeError) -> Bool {
        guard fd >= 0 else { throw RuntimeError(kind: .closed, message: "connection is closed", completed: completed) }
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { return false }
                throw fail(.io, "read: \(String(cString: strerror(errno)))", completed)
            }
            if n == 0 { throw fail(.closed, "HAProxy closed the connection (\(completed) answered)", completed) }
            buffer.append(contentsOf: chunk[0..<n])
            return true
        }
    }

    /// Cuts the next complete answer off the front of the buffer, if one has arrived.
    func takeAnswer() -> String? {
        var answers: [String] = []
        extractAnswers(into: &answers, limit: 1)
        return answers.first
    }

    /// Hands every complete line of the answer being received to `line` and drops it from the buffer; returns true
    /// once the answer has ended (its prompt is consumed too).
    ///
    /// A line is complete once the bytes after its newline show it is not the answer's end ("\n> "), so a prompt split
    /// across two reads is never mistaken for data.
    func takeLines(_ line: (UnsafeBufferPointer<UInt8>) throws(RuntimeParseError) -> Void) throws(RuntimeParseError) -> Bool {
        var start = 0
        var ended = false
        let count = buffer.count
        let result: Result<Void, RuntimeParseError> = buffer.withUnsafeBufferPointer { b in
            var i = 0
            do throws(RuntimeParseError) {
                while i < count {
                    guard b[i] == 0x0A else {
                        i += 1
                        continue
                    }
                    guard i + 2 < count else { break }
                    if i > start { try line(UnsafeBufferPointer(rebasing: b[start..<i])) }
                    if b[i + 1] == 0x3E && b[i + 2] == 0x20 {
                        start = i + 3
                        ended = true
                        break
                    }
                    start = i + 1
                    i += 1
                }
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        if start > 0 { buffer.removeFirst(start) }
        scanFrom = 0
        try result.get()
        return ended
    }
}
