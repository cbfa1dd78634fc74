import DiscoveryCore
import HAProxyRuntime

extension HAProxyControl {
    /// Sends a batch's actions over one connection, in backend order; each result carries its action.
    public func apply(_ batch: ApplyBatch) async -> BatchResult {
        do {
            return .answered(try await apply(batch.plans.flatMap(\.commands)))
        } catch {
            return .connectionFailed(BridgeError(error), completed: error.completed)
        }
    }
}
