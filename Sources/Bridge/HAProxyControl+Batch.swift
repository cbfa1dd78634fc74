import DiscoveryCore
import HAProxyRuntime

extension HAProxyControl {
    /// Sends a batch's commands over one connection, in backend order, and sorts the answers by backend.
    public func apply(_ batch: ApplyBatch) async -> BatchResult {
        let lines = batch.plans.flatMap { $0.commands.map(\.line) }
        let outcomes: [CommandOutcome]
        do {
            outcomes = try await execute(lines)
        } catch {
            return .connectionFailed(BridgeError.haproxy(error.description), completed: error.completed)
        }
        var answers: [BackendAnswers] = []
        var next = outcomes[...]
        for plan in batch.plans {
            let mine = next.prefix(plan.commands.count)
            next = next.dropFirst(plan.commands.count)
            var answer = BackendAnswers(backend: plan.backend, sent: mine.count)
            for outcome in mine where !outcome.succeeded {
                // A worker an HAProxy reload replaced answers this until our connection moves to the new one.
                if outcome.answer.hasPrefix("Proxy is disabled") {
                    answer.oldWorkerAnswers += 1
                } else {
                    answer.refusals.append(.init(command: outcome.line, answer: outcome.error ?? outcome.answer))
                }
            }
            answers.append(answer)
        }
        return .answered(answers)
    }
}
