/// Reading a streamed batch's answers, and choosing the connection for each backend's actions.
extension BatchStreamer {
    /// Takes what `lane` has received; false when the feed refused the live read (the batch ends, nothing sent).
    mutating func process(_ lane: StreamLane) throws(RuntimeError) -> Bool {
        let connection = lane.connection
        if lane.index == 0, phase == .info {
            guard let text = connection.takeAnswer() else { return true }
            let info: HAProxyInfo
            do { info = try RuntimeParsers.info(text) } catch { throw RuntimeError(kind: .unexpectedAnswer, message: error.description) }
            noteInfo(info)
            guard feed.admit(info) else {
                connection.close()
                phase = .done
                return false
            }
            phase = .dump
        }
        if lane.index == 0, phase == .dump {
            let (backends, ended) = try dump.take(from: connection)
            for backend in backends { try dispatch(feed.live(backend: backend.name, servers: backend.servers)) }
            guard ended else { return true }
            phase = .planning
        }
        var answers: [String] = []
        connection.extractAnswers(into: &answers)
        guard lane.answered + answers.count <= lane.queued.count else {
            throw RuntimeError(kind: .protocolViolation, message: "more answers than commands")
        }
        for answer in answers {
            let i = lane.queued[lane.answered]
            results[i].status = Self.status(of: results[i].action, answer: answer)
            results[i].answer = answer
            answered[i] = true
            lane.answered += 1
        }
        return true
    }

    /// How HAProxy took `action`: the empty answer is success for every action but `add server` (the common case,
    /// tens of thousands per cold sync, needs no look at the command line); anything else is classified in full.
    static func status(of action: SlotAction, answer: String) -> ActionResult.Status {
        if answer.isEmpty {
            if case .addServer = action {} else { return .applied }
        }
        return RuntimeAnswer.status(line: action.line, answer: answer)
    }

    /// Queues one backend's actions, whole, on one connection, and writes them at once.
    mutating func dispatch(_ group: [SlotAction]) throws(RuntimeError) {
        guard !group.isEmpty else { return }
        let lane = try chooseLane()
        for action in group {
            let i = results.count
            let line = action.line
            if let problem = RuntimeClient.lineProblem(line) {
                results.append(ActionResult(action: action, answer: "", status: .refused("not sent: \(problem)")))
                answered.append(true)
            } else {
                results.append(ActionResult(action: action, answer: "", status: .applied))
                answered.append(false)
                lane.queue(line, index: i)
            }
        }
        // Written at once when HAProxy has nothing else from this connection; else in larger writes, at least every
        // `writeInterval` (one wake-up of HAProxy per backend costs more than it gains; the poll loop sends the rest).
        if lane.inFlight <= group.count || lane.unsent >= Self.writeChunk || ContinuousClock.now - lane.lastWrite >= Self.writeInterval {
            try lane.flush(completed: 0)
        }
    }

    /// A second connection opens once the batch reaches `RuntimeClient.parallelThreshold` actions.
    var mayOpenSecondLane: Bool {
        lanes.count == 1 && !secondLaneRefused && results.count >= RuntimeClient.parallelThreshold && secondLaneAllowed()
    }

    /// The connection with less in flight; the first one while it is still sending `show servers state` only
    /// when there is no other.
    mutating func chooseLane() throws(RuntimeError) -> StreamLane {
        if lanes.isEmpty { return try openLane() }
        if mayOpenSecondLane {
            do {
                _ = try openLane()
            } catch {
                // One connection still works: the batch goes on over it.
                secondLaneRefused = true
            }
        }
        guard lanes.count == 2 else { return lanes[0] }
        if phase == .info || phase == .dump { return lanes[1] }
        return lanes[1].inFlight < lanes[0].inFlight ? lanes[1] : lanes[0]
    }

    mutating func openLane() throws(RuntimeError) -> StreamLane {
        let (connection, reused) = try connect(lanes.count)
        let lane = StreamLane(index: lanes.count, connection: connection, reused: reused)
        lanes.append(lane)
        return lane
    }
}
