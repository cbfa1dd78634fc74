import Dispatch
import Logging
import Synchronization

/// A Runtime API client that keeps an interactive connection open and pipelines every batch over it (a large batch
/// over two, whole backends on each, when HAProxy runs two or more threads: `RuntimeClient+Lanes.swift`).
///
/// Calls are serialised on the client's own thread (`RuntimeThread`), so socket waits never block Swift's cooperative
/// threads; an actor that uses that thread as its executor (`executor`, the reconciler) runs its calls inline, with
/// no thread hand-off between deciding a batch, sending it and taking its answers. A connection
/// HAProxy closed while idle (its `stats timeout`) is replaced transparently; a batch that fails midway reports how
/// many commands were answered, because those took effect and the rest are unknown.
public final class RuntimeClient: Sendable {
    public let endpoint: RuntimeEndpoint
    public let timeout: Duration
    let logger: Logger
    /// One serial thread or queue and connection per lane; lane 0 (its own thread) carries everything but the second
    /// half of large batches, lane 1 is a dispatch queue.
    let lanes: [Lane]
    /// Lane 0's thread: the reconciler's executor too (`laneThread`).
    private let thread = RuntimeThread(name: "db-runtime")
    /// HAProxy's `Nbthread` as last read from `show info`; with two or more, large batches use two connections.
    let haproxyThreads = Atomic<Int>(1)
    let maxConnections: Int
    /// Connections the last streamed batch used.
    let lastBatchConnections = Atomic<Int>(0)

    /// Creates a client; nothing is connected until the first call.
    /// - Parameter timeout: the longest HAProxy may go without progress (connect, or the next answer) before the call fails.
    /// - Parameter connections: how many connections a large batch may use at once (1 or 2; see `RuntimeClient+Lanes`).
    public init(endpoint: RuntimeEndpoint, timeout: Duration = .seconds(2), connections: Int = 2, logger: Logger = Logger(label: "haproxy-runtime")) {
        lanes = [Lane(thread: thread), Lane(label: "discovery-bridge.haproxy-runtime.2")]
        self.maxConnections = min(max(connections, 1), 2)
        self.endpoint = endpoint
        self.timeout = timeout
        self.logger = logger
    }

    /// Lane 0's thread. An actor using its `executor` (`nonisolated var unownedExecutor`) calls this client without a
    /// thread hand-off: its calls run inline on the thread (blocking it, which is what the thread is for).
    public var laneThread: RuntimeThread { thread }

    /// Sends `lines` and returns HAProxy's raw answer to each, in order.
    nonisolated(nonsending) public func raw(_ lines: [String]) async throws(RuntimeError) -> [String] {
        try await raw(lines, lane: 0)
    }

    /// `raw` over one lane's connection (HAProxy runs one connection's commands in order).
    nonisolated(nonsending) func raw(_ lines: [String], lane index: Int) async throws(RuntimeError) -> [String] {
        if lines.isEmpty { return [] }
        for line in lines {
            if let problem = Self.lineProblem(line) { throw RuntimeError(kind: .protocolViolation, message: "refusing to send \"\(line.prefix(80))\": \(problem)") }
        }
        let lane = lanes[index]
        return try await lane.run { [self] in perform(on: lane.holder) { (c) throws(RuntimeError) in try c.exchange(lines) } }.get()
    }

    /// Sends `lines` over a new connection that is closed afterwards, leaving the persistent one alone.
    ///
    /// After an HAProxy reload in master-worker mode, an open connection still talks to the old worker (which stays
    /// alive while the connection does); only a new connection reaches the new worker. Use this to detect reloads.
    nonisolated(nonsending) public func probe(_ lines: [String]) async throws(RuntimeError) -> [String] {
        if lines.isEmpty { return [] }
        return try await lanes[0].run { [endpoint, timeout] () -> Result<[String], RuntimeError> in
            do throws(RuntimeError) {
                let connection = try RuntimeConnection(endpoint: endpoint, timeout: timeout)
                defer { connection.close() }
                return .success(try connection.exchange(lines))
            } catch {
                return .failure(error)
            }
        }.get()
    }

    /// Sends `lines` and checks each answer; a line unsafe to send (newline, `;`) is reported as failed and not sent.
    nonisolated(nonsending) public func execute(_ lines: [String]) async throws(RuntimeError) -> [CommandOutcome] {
        try await execute(lines, lane: 0)
    }

    /// `execute` over one lane's connection.
    nonisolated(nonsending) func execute(_ lines: [String], lane: Int) async throws(RuntimeError) -> [CommandOutcome] {
        var outcomes = [CommandOutcome?](repeating: nil, count: lines.count)
        var toSend: [String] = []
        var positions: [Int] = []
        toSend.reserveCapacity(lines.count)
        for (i, line) in lines.enumerated() {
            if let problem = Self.lineProblem(line) {
                outcomes[i] = CommandOutcome(line: line, answer: "", error: "not sent: \(problem)")
            } else {
                toSend.append(line)
                positions.append(i)
            }
        }
        let answers: [String]
        do {
            answers = try await raw(toSend, lane: lane)
        } catch {
            // Report completion in terms of the caller's lines.
            var e = error
            e.completed = e.completed > 0 && e.completed <= positions.count ? positions[e.completed - 1] + 1 : 0
            throw e
        }
        for (k, answer) in answers.enumerated() {
            let line = toSend[k]
            outcomes[positions[k]] = CommandOutcome(line: line, answer: answer, error: RuntimeAnswer.classify(line: line, answer: answer))
        }
        return outcomes.enumerated().map { $0.element ?? CommandOutcome(line: lines[$0.offset], answer: "", error: "no answer") }
    }

    /// Closes the connection; a later call opens a new one (to whichever HAProxy process owns the socket now).
    public func close() {
        for lane in lanes {
            lane.async { [holder = lane.holder] in
                holder.connection?.close()
                holder.connection = nil
            }
        }
    }

    static func lineProblem(_ line: String) -> String? {
        if line.isEmpty { return "empty command" }
        for b in line.utf8 where b == 0x0A || b == 0x0D || b == 0x3B || b == 0 {
            return b == 0x3B ? "contains ';', which HAProxy treats as a command separator" : "contains a line break or NUL"
        }
        if line.utf8.count > 8192 { return "longer than 8192 bytes" }
        return nil
    }

    /// Runs `operation` on the lane's open connection (or a new one). Runs on the queue of the lane that owns `holder` only.
    func perform<T>(on holder: ConnectionHolder, _ operation: (RuntimeConnection) throws(RuntimeError) -> T) -> Result<T, RuntimeError> {
        var attempt = 0
        while true {
            attempt += 1
            let reused: Bool
            let connection: RuntimeConnection
            if let existing = holder.connection, existing.isOpen, !existing.peerClosed() {
                connection = existing
                reused = true
            } else {
                holder.connection?.close()
                holder.connection = nil
                do {
                    connection = try RuntimeConnection(endpoint: endpoint, timeout: timeout)
                } catch {
                    return .failure(error)
                }
                holder.connection = connection
                reused = false
            }
            do {
                return .success(try operation(connection))
            } catch {
                holder.connection = nil
                // A reused connection HAProxy dropped before reading anything: nothing took effect, so try once more.
                if reused, attempt == 1, error.completed == 0, error.kind == .closed || error.kind == .io {
                    logger.debug("runtime API connection was closed by HAProxy; reconnecting", metadata: ["endpoint": "\(endpoint)"])
                    continue
                }
                return .failure(error)
            }
        }
    }
}

/// The open connection of one lane, touched only on that lane's queue.
final class ConnectionHolder: @unchecked Sendable {
    var connection: RuntimeConnection?
}

/// A serial thread or queue and the connection it owns.
struct Lane: Sendable {
    /// Lane 0's own thread; nil for a lane that runs on `queue`.
    let thread: RuntimeThread?
    /// The serial queue of a lane without a thread of its own (lane 1: borrowed from lane 0's thread with `sync`).
    let queue: DispatchQueue
    let holder = ConnectionHolder()

    init(label: String) {
        thread = nil
        queue = DispatchQueue(label: label)
    }

    init(thread: RuntimeThread) {
        self.thread = thread
        queue = DispatchQueue(label: "discovery-bridge.haproxy-runtime")
    }

    /// True when called on this lane's thread (never for a queue lane).
    var isCurrent: Bool { thread?.isCurrent ?? false }

    /// Runs `work` on the lane, after what is already queued there.
    func async(_ work: @escaping @Sendable () -> Void) {
        if let thread { thread.async(work) } else { queue.async(execute: work) }
    }

    /// Runs `body` on the lane and returns its result: inline when called on the lane's thread (the reconciler),
    /// else after what is queued there, the caller suspended meanwhile.
    nonisolated(nonsending) func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        if isCurrent { return body() }
        return await withCheckedContinuation { continuation in
            async { continuation.resume(returning: body()) }
        }
    }
}
