#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs a streamed batch from one thread: asks the feed for one backend's actions at a time, writes them at once,
/// and reads answers (and, first, `show info` and `show servers state`, line by line) from one poll loop over one
/// connection, or two once the batch is large and HAProxy runs two threads.
///
/// Each backend's actions go whole, in order, to one connection (HAProxy runs one connection's commands in order);
/// every answer is matched to its action by position on its connection and classified.
struct BatchStreamer<Feed: BatchFeed> {
    enum Phase { case info, dump, planning, done }

    /// Planning stops running ahead of HAProxy once this many actions wait for answers on every connection.
    static var inFlightLimit: Int { 2048 }
    /// Queued bytes worth a write of their own while HAProxy still has earlier commands of the connection to run.
    static var writeChunk: Int { 16384 }
    /// The longest queued commands wait for a write while planning goes on (HAProxy runs a chunk in about 2 ms).
    static var writeInterval: Duration { .microseconds(500) }

    var feed: Feed
    var phase: Phase
    let timeoutMs: Int32
    /// Opens (or reuses) lane `n`'s connection.
    let connect: (Int) throws(RuntimeError) -> (RuntimeConnection, reused: Bool)
    /// Whether a second connection may be used, asked once the batch reaches `RuntimeClient.parallelThreshold`.
    let secondLaneAllowed: () -> Bool
    let noteInfo: (HAProxyInfo) -> Void

    var lanes: [StreamLane] = []
    /// One result per action in production order, the action's own placeholder until its answer is in (`answered`):
    /// no second array of actions, and no copy of 20,000 results at the end of a cold sync.
    var results: [ActionResult] = []
    var answered: [Bool] = []
    var secondLaneRefused = false
    var dump = ServersStateDump()
    var chunk = [UInt8](repeating: 0, count: 65536)

    /// Answered actions, in production order, up to the first one not answered (those are known to have taken effect).
    var completed: Int { answered.firstIndex(of: false) ?? answered.count }

    /// Runs the batch to its end; on failure every connection it used is closed (their answers are unknown).
    mutating func run() -> (results: [ActionResult], failure: RuntimeError?, lanes: [StreamLane]) {
        do throws(RuntimeError) {
            if phase == .info {
                let lane = try openLane()
                lane.queueRaw("show info")
                lane.queueRaw("show servers state")
                try lane.flush(completed: 0)
            }
            try loop()
            // A connection left mid-answer (a refused live read) is closed; the others go back to their lanes.
            return (results, nil, lanes.filter { $0.connection.isOpen })
        } catch {
            for lane in lanes { lane.connection.close() }
            let done = completed
            var e = error
            e.completed = done
            return (Array(results.prefix(done)), e, [])
        }
    }

    private mutating func loop() throws(RuntimeError) {
        while true {
            if phase == .planning { try fill() }
            if phase == .done, lanes.allSatisfy({ $0.inFlight == 0 }) { break }
            var fds = lanes.map { pollfd(fd: $0.connection.fd, events: Int16(POLLIN) | ($0.unsent > 0 ? Int16(POLLOUT) : 0), revents: 0) }
            let r = poll(&fds, nfds_t(fds.count), timeoutMs)
            if r < 0 {
                if errno == EINTR { continue }
                throw RuntimeError(kind: .io, message: "poll: \(String(cString: strerror(errno)))")
            }
            if r == 0 { throw RuntimeError(kind: .timeout, message: "no answer within \(timeoutMs) ms (\(completed) of \(results.count) answered)") }
            for (k, lane) in lanes.enumerated() where fds[k].revents != 0 {
                do throws(RuntimeError) {
                    if fds[k].revents & Int16(POLLOUT) != 0 { try lane.flush(completed: 0) }
                    if fds[k].revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                        while try lane.connection.receiveSome(&chunk, completed: 0) {
                            if try !process(lane) { return }
                        }
                    }
                } catch {
                    guard lane.mayReplay, error.kind == .closed || error.kind == .io, !(k == 0 && phase == .dump) else { throw error }
                    // HAProxy dropped the idle connection before reading it: nothing took effect; same bytes, new connection.
                    lane.replay(on: try connect(lane.index).0)  // the lane's holder is empty while the batch runs: a new one
                }
            }
        }
        for lane in lanes where !lane.connection.buffer.isEmpty {
            throw RuntimeError(kind: .protocolViolation, message: "unexpected bytes after the last answer")
        }
    }

    /// Plans ahead while some connection has room, sending each backend's actions as soon as they exist.
    private mutating func fill() throws(RuntimeError) {
        while phase == .planning {
            let room = lanes.isEmpty || lanes.contains { $0.inFlight < Self.inFlightLimit } || mayOpenSecondLane
            guard room else { return }
            guard let group = feed.next() else {
                phase = .done
                return
            }
            try dispatch(group)
        }
    }
}
