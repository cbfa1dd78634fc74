/// The typed face of the client: slot actions in, results carrying their action out; `show` answers parsed.
extension RuntimeClient {
    /// Sends every action in one pipelined batch and returns one result per action, in order.
    ///
    /// Throws only when the connection fails; `RuntimeError.completed` then counts the actions that were answered
    /// (those took effect, the rest are unknown).
    nonisolated(nonsending) public func apply(_ actions: [SlotAction]) async throws(RuntimeError) -> [ActionResult] {
        let lines = actions.map(\.line)
        let outcomes = usesTwoConnections(forBatchOf: actions.count)
            ? try await executeInLanes(lines, backends: actions.map(\.backend))
            : try await execute(lines)
        var results: [ActionResult] = []
        results.reserveCapacity(actions.count)
        for (action, outcome) in zip(actions, outcomes) {
            var status = ActionResult.Status.applied
            if let error = outcome.error {
                // A line never sent has no answer, which must not read as HAProxy's empty "done".
                let classified = RuntimeAnswer.status(line: outcome.line, answer: outcome.answer)
                status = classified == .applied ? .refused(error) : classified
            }
            results.append(ActionResult(action: action, answer: outcome.answer, status: status))
        }
        return results
    }

    /// Reads `show info` and `show servers state` in one round trip.
    ///
    /// With two connections allowed, over lane 1's (a dispatch queue): the caller suspends, so an actor on lane 0's
    /// thread (the reconciler) takes other work meanwhile (a provider's first answer during a cold start's read),
    /// and the dump is parsed off that thread. The connection stays open as the next large batch's second one.
    /// The dump is parsed line by line as it arrives (`RuntimeConnection.readLive`), not after it has ended.
    nonisolated(nonsending) public func readLiveState() async throws(RuntimeError) -> LiveState {
        let lane = lanes[maxConnections >= 2 ? 1 : 0]
        let (text, backends) = try await lane.run { [self] in
            perform(on: lane.holder) { (c) throws(RuntimeError) in try c.readLive() }
        }.get()
        do {
            let info = try RuntimeParsers.info(text)
            noteThreads(info)
            return LiveState(info: info, backends: backends)
        } catch {
            throw RuntimeError(kind: .unexpectedAnswer, message: error.description)
        }
    }

    /// Current sessions per server for each backend (`show stat <backend> 4 -1`), in one round trip.
    nonisolated(nonsending) public func readSessions(backends: [String]) async throws(RuntimeError) -> [String: [String: Int]] {
        guard !backends.isEmpty else { return [:] }
        let answers = try await raw(backends.map { "show stat \($0) 4 -1" })
        var result: [String: [String: Int]] = [:]
        for (backend, answer) in zip(backends, answers) {
            do {
                result[backend] = try RuntimeParsers.statSessions(answer)
            } catch {
                throw RuntimeError(kind: .unexpectedAnswer, message: "show stat \(backend): \(error.description)")
            }
        }
        return result
    }

    /// `show info` over a new connection, for noticing a restart or reload between resyncs.
    ///
    /// A new connection each time: after a master-worker reload the persistent one still reaches the old worker,
    /// which would answer with the old pid (and stay alive as long as we keep talking to it).
    nonisolated(nonsending) public func probeInfo() async throws(RuntimeError) -> HAProxyInfo {
        let answers = try await probe(["show info"])
        do {
            return try RuntimeParsers.info(answers.first ?? "")
        } catch {
            throw RuntimeError(kind: .unexpectedAnswer, message: error.description)
        }
    }

    /// `show info`, parsed, over the persistent connection (also a cheap "is HAProxy answering?" check).
    nonisolated(nonsending) public func showInfo() async throws(RuntimeError) -> HAProxyInfo {
        let answers = try await raw(["show info"])
        do {
            return try RuntimeParsers.info(answers.first ?? "")
        } catch {
            throw RuntimeError(kind: .unexpectedAnswer, message: error.description)
        }
    }

    /// `show servers state [backend]`, parsed.
    nonisolated(nonsending) public func showServersState(backend: String? = nil) async throws(RuntimeError) -> [ServerStateRow] {
        let answers = try await raw([backend.map { "show servers state \($0)" } ?? "show servers state"])
        do {
            return try RuntimeParsers.serversState(answers.first ?? "")
        } catch {
            throw RuntimeError(kind: .unexpectedAnswer, message: error.description)
        }
    }

    /// Current sessions per server of `backend`.
    nonisolated(nonsending) public func showSessions(backend: String) async throws(RuntimeError) -> [String: Int] {
        try await readSessions(backends: [backend])[backend] ?? [:]
    }
}
