import DiscoveryCore
import Synchronization

/// Runs providers just long enough for every source to answer once (for the `plan` dry run).
public enum DiscoveryProbe {
    public struct Result: Sendable {
        public var snapshots: [String: [Instance]]
        public var failures: [String: String]
        /// Source keys that never answered within the time limit.
        public var missing: [String]
    }

    final class RecordingSink: ProviderSink {
        let state = Mutex<(snapshots: [String: [Instance]], failures: [String: String])>(([:], [:]))
        let wakeup = Wakeup()
        func publish(_ update: ProviderUpdate) async {
            state.withLock { s in for (k, v) in update.sources { s.snapshots[k] = v } }
            wakeup.signal()
        }
        func reportSuccess(provider: String) async {}
        func reportFailure(provider: String, error: String) async {
            state.withLock { $0.failures[provider] = error }
        }
    }

    public static func firstSnapshots(providers: [any DiscoveryProvider], sourceKeys: Set<String>, timeout: Duration) async -> Result {
        let sink = RecordingSink()
        let deadline = ContinuousClock.now + timeout
        await withTaskGroup(of: Void.self) { group in
            for p in providers {
                group.addTask { try? await p.run(sink: sink) }
            }
            while ContinuousClock.now < deadline {
                let have = sink.state.withLock { Set($0.snapshots.keys) }
                if sourceKeys.isSubset(of: have) { break }
                await sink.wakeup.wait(until: min(deadline, .now + .milliseconds(200)))
            }
            group.cancelAll()
        }
        let (snapshots, failures) = sink.state.withLock { ($0.snapshots, $0.failures) }
        return Result(snapshots: snapshots, failures: failures, missing: sourceKeys.subtracting(snapshots.keys).sorted())
    }
}
