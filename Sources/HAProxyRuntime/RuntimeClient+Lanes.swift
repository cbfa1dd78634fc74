/// Large batches over two connections: HAProxy runs one connection's commands in order on one thread, so with
/// `nbthread` ≥ 2 a second connection runs on another thread in parallel (measured here: 20,000 commands in ~120 ms
/// over two connections against ~155-230 ms over one, nbthread 2, 2 cores).
///
/// Each backend's actions stay together, in order, on one connection; every answer is still checked against its
/// own command. Small batches (a single change) use one connection: splitting them would only add a round trip.
/// This is `apply`'s split, for a batch known in one piece; the reconciler's streamed batches (`stream`,
/// `BatchStreamer`) open the second connection themselves once they pass `parallelThreshold` actions.
extension RuntimeClient {
    /// Batches at least this long are split when HAProxy has two or more threads.
    public static let parallelThreshold = 512

    /// Whether `apply` would use two connections for a batch of `count` actions now.
    public func usesTwoConnections(forBatchOf count: Int) -> Bool {
        maxConnections >= 2 && count >= Self.parallelThreshold && haproxyThreads.load(ordering: .relaxed) >= 2
    }

    /// Remembers HAProxy's thread count from a `show info` answer.
    func noteThreads(_ info: HAProxyInfo) {
        haproxyThreads.store(info.fields["Nbthread"].flatMap { Int($0) } ?? 1, ordering: .relaxed)
    }

    /// Splits `lines` into two lanes by backend (whole backends, balanced by command count, order kept in each),
    /// runs both at once and puts the outcomes back in the caller's order.
    ///
    /// On a connection failure `completed` counts the leading actions (in the caller's order) that were answered:
    /// those took effect; everything after the first unanswered one is unknown.
    func executeInLanes(_ lines: [String], backends: [String]) async throws(RuntimeError) -> [CommandOutcome] {
        var laneOf: [String: Int] = [:]
        var load = [0, 0]
        var positions: [[Int]] = [[], []]
        for (i, backend) in backends.enumerated() {
            let lane: Int
            if let known = laneOf[backend] {
                lane = known
            } else {
                lane = load[0] <= load[1] ? 0 : 1
                laneOf[backend] = lane
            }
            load[lane] += 1
            positions[lane].append(i)
        }
        let first = positions[0].map { lines[$0] }, second = positions[1].map { lines[$0] }
        async let a = outcome(of: first, lane: 0)
        async let b = outcome(of: second, lane: 1)
        let results = [await a, await b]
        var outcomes = [CommandOutcome?](repeating: nil, count: lines.count)
        var failure: RuntimeError?
        for (lane, result) in results.enumerated() {
            switch result {
            case .success(let answered):
                for (k, outcome) in answered.enumerated() { outcomes[positions[lane][k]] = outcome }
            case .failure(let error):
                // Answered before the failure: known to have taken effect, even if not reported one by one.
                for k in 0..<min(error.completed, positions[lane].count) {
                    outcomes[positions[lane][k]] = CommandOutcome(line: lines[positions[lane][k]], answer: "", error: nil)
                }
                if failure == nil { failure = error }
            }
        }
        if var failure {
            failure.completed = outcomes.firstIndex { $0 == nil } ?? outcomes.count
            throw failure
        }
        return outcomes.enumerated().map { $0.element ?? CommandOutcome(line: lines[$0.offset], answer: "", error: "no answer") }
    }

    private func outcome(of lines: [String], lane: Int) async -> Result<[CommandOutcome], RuntimeError> {
        do {
            return .success(try await execute(lines, lane: lane))
        } catch {
            return .failure(error)
        }
    }
}
