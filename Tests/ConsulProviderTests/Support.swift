import ConsulProvider
import CurlHTTP
import DiscoveryCore
import Foundation
import Logging
import Synchronization
import TestSupport
import XCTest

/// A task executor that knows when it is running the caller: one serial queue, marked.
final class MarkedExecutor: TaskExecutor, @unchecked Sendable {
    // @unchecked: a dispatch queue and its immutable key.
    private let queue = DispatchQueue(label: "consul-test.publish")
    private let key = DispatchSpecificKey<Bool>()

    init() { queue.setSpecific(key: key, value: true) }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }

    var isCurrent: Bool { DispatchQueue.getSpecific(key: key) == true }
}

/// Records everything a provider reports; readable synchronously from tests.
final class CollectingSink: ProviderSink {
    struct Published: Sendable {
        var update: ProviderUpdate
        var at: ContinuousClock.Instant
    }
    private struct State {
        var updates: [Published] = []
        var successes = 0
        var failures: [String] = []
        /// How many updates had been published when each failure was reported.
        var updatesAtFailure: [Int] = []
        var metrics: [String: Double] = [:]
        var latest: [String: Int] = [:]
        var current: [String: [Instance]] = [:]
        /// Sources that were ever published with fewer instances than they had before.
        var shrunk: Set<String> = []
    }
    private let state = Mutex(State())
    /// Where the sink asks its publishes to run (nil: anywhere), and whether each publish ran there.
    let executor: MarkedExecutor?
    private let onExecutor = Mutex<[Bool]>([])
    var publishedOnExecutor: [Bool] { onExecutor.withLock { $0 } }

    init(executor: MarkedExecutor? = nil) { self.executor = executor }

    var publishExecutor: (any TaskExecutor)? { executor }

    func publish(_ update: ProviderUpdate) async {
        if let executor { onExecutor.withLock { $0.append(executor.isCurrent) } }
        state.withLock { s in
            s.updates.append(Published(update: update, at: .now))
            for (k, v) in update.sources {
                if let before = s.latest[k], v.count < before { s.shrunk.insert(k) }
                s.latest[k] = v.count
                s.current[k] = v
            }
        }
    }
    func reportMetrics(provider: String, _ metrics: [ProviderMetric]) async {
        state.withLock { s in for m in metrics { s.metrics[m.name] = m.value } }
    }
    /// The latest value of a reported provider metric.
    func metric(_ name: String) -> Double? { state.withLock { $0.metrics[name] } }
    /// How many sources have a published snapshot with at least one instance.
    var filledSources: Int { state.withLock { $0.latest.values.filter { $0 > 0 }.count } }
    var shrunkSources: Set<String> { state.withLock { $0.shrunk } }
    var updateCount: Int { state.withLock { $0.updates.count } }
    func reportSuccess(provider: String) async { state.withLock { $0.successes += 1 } }
    func reportFailure(provider: String, error: String) async {
        state.withLock { s in
            s.failures.append(error)
            s.updatesAtFailure.append(s.updates.count)
        }
    }

    var updates: [Published] { state.withLock { $0.updates } }
    var successes: Int { state.withLock { $0.successes } }
    var failures: [String] { state.withLock { $0.failures } }
    var updatesAtFailure: [Int] { state.withLock { $0.updatesAtFailure } }
    var lastUpdate: ProviderUpdate? { updates.last?.update }

    /// The latest published instances of `source`, if any.
    func instances(_ source: String) -> [Instance]? {
        state.withLock { $0.current[source] }
    }

    func ids(_ source: String) -> [String]? { instances(source)?.map(\.id) }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
}

/// Fails the test unless `condition` becomes true within `timeout`.
func expectEventually(timeout: Duration = .seconds(10), file: StaticString = #filePath, line: UInt = #line,
                      _ condition: @Sendable () async -> Bool) async {
    if !(await eventually(timeout: timeout, condition)) {
        XCTFail("condition not met within \(timeout)", file: file, line: line)
    }
}

/// Polls `condition` until true or `timeout`; returns whether it became true.
func eventually(timeout: Duration = .seconds(10), _ condition: @Sendable () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return await condition()
}

/// A LogHandler keeping every rendered line (message and metadata) in memory.
struct CapturingLogHandler: LogHandler {
    final class Store: Sendable {
        let lines = Mutex<[String]>([])
        var all: [String] { lines.withLock { $0 } }
    }
    let store: Store
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, b in b }
        let text = "\(event.level) \(event.message) " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        store.lines.withLock { $0.append(text) }
    }
}

