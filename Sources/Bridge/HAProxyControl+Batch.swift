import DiscoveryCore
import HAProxyRuntime

extension HAProxyControl {
    /// Runs a cycle's batch as one stream: planning and sending overlap, each result carries its action.
    nonisolated(nonsending) public func apply(_ batch: ApplyBatch) async -> BatchResult {
        let done = await stream(batch.feed, readingLiveFirst: batch.readsLiveFirst)
        var result = BatchResult(feed: done.feed, results: done.results, failure: done.failure.map { BridgeError($0) })
        result.ran = done.ran
        return result
    }
}
