import DiscoveryCore
@testable import EC2Provider
import Foundation
import Logging
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Simple blocking HTTP calls to the fakes' control endpoints (curl CLI, bounded).
func control(_ url: String, method: String = "GET") throws -> String {
    try runTool("curl", ["-sS", "--max-time", "10", "-X", method, url], timeout: 15)
}

/// Records everything a provider reports.
actor RecordingSink: ProviderSink {
    private(set) var updates: [ProviderUpdate] = []
    private(set) var successes = 0
    private(set) var failures: [String] = []

    func publish(_ update: ProviderUpdate) { updates.append(update) }
    func reportSuccess(provider: String) { successes += 1 }
    func reportFailure(provider: String, error: String) { failures.append(error) }

    var last: ProviderUpdate? { updates.last }
    func snapshot() -> (updates: Int, successes: Int, failures: [String]) { (updates.count, successes, failures) }
}

/// Polls `condition` every 50 ms until it holds or `timeout` seconds pass.
func waitUntil(_ timeout: Double = 20, _ what: String, file: StaticString = #filePath, line: UInt = #line,
                _ condition: () async -> Bool) async {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if await condition() { return }
        try? await Task.sleep(for: .milliseconds(50))
    }
    XCTFail("timed out after \(timeout)s waiting for: \(what)", file: file, line: line)
}

/// A LogHandler that keeps every rendered line (message + metadata) for assertions.
final class CapturingLogHandler: LogHandler, @unchecked Sendable {
    final class Store: @unchecked Sendable {
        private let lock = NSLock()
        private var lines: [String] = []
        func append(_ s: String) { lock.lock(); lines.append(s); lock.unlock() }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
    }

    let store: Store
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    init(store: Store) { self.store = store }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = self.metadata.merging(event.metadata ?? [:]) { $1 }
        let meta = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let error = event.error.map { " error=\($0)" } ?? ""
        store.append("\(event.level) \(event.message) \(meta)\(error)")
    }
}

/// Runs a provider in a task until `stop()`.
final class RunningProvider: @unchecked Sendable {
    let task: Task<Void, Never>
    let sink: RecordingSink

    init(_ provider: any DiscoveryProvider, sink: RecordingSink = RecordingSink()) {
        self.sink = sink
        task = Task { try? await provider.run(sink: sink) }
    }

    func stop() async {
        task.cancel()
        _ = await task.value
    }
}
