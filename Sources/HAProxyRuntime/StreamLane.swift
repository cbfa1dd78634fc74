/// One connection of a streamed batch and what it has in flight; touched only by its `BatchStreamer`.
final class StreamLane {
    let index: Int
    private(set) var connection: RuntimeConnection
    /// The connection was open before this batch (HAProxy may have dropped it while idle).
    private(set) var reused: Bool
    /// Command bytes queued; `out[written...]` is not on the socket yet.
    var out: [UInt8] = []
    var written = 0
    /// When bytes last went on the socket.
    private(set) var lastWrite = ContinuousClock.now
    /// Production index of every action queued on this connection, in send order.
    var queued: [Int] = []
    /// How many of `queued` HAProxy has answered.
    var answered = 0

    init(index: Int, connection: RuntimeConnection, reused: Bool) {
        self.index = index
        self.connection = connection
        self.reused = reused
        out.reserveCapacity(1 << 16)
    }

    /// Actions queued and not yet answered.
    var inFlight: Int { queued.count - answered }

    var unsent: Int { out.count - written }

    func queue(_ line: String, index: Int) {
        out.append(contentsOf: line.utf8)
        out.append(0x0A)
        queued.append(index)
    }

    /// Queues a command whose answer is not an action's (`show info`, `show servers state`).
    func queueRaw(_ line: String) {
        out.append(contentsOf: line.utf8)
        out.append(0x0A)
    }

    /// Whether a failure now may be retried on a new connection: HAProxy dropped a connection it had left idle
    /// before answering anything, so nothing took effect (the bytes are kept until the first answer for this).
    var mayReplay: Bool { reused && answered == 0 }

    /// Writes what the socket takes now; written bytes are forgotten once replaying is no longer possible.
    func flush(completed: Int) throws(RuntimeError) {
        guard unsent > 0 else { return }
        written += try connection.sendSome(out, from: written, completed: completed)
        lastWrite = .now
        if !mayReplay, written == out.count || written >= 1 << 16 {
            out.removeFirst(written)
            written = 0
        }
    }

    /// After HAProxy dropped a reused connection before answering anything: the same bytes on a new connection.
    func replay(on fresh: RuntimeConnection) {
        connection = fresh
        reused = false
        written = 0
    }
}
