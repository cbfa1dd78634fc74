import DiscoveryCore
import FileProvider
import Foundation
import Logging
import Synchronization
import TestSupport
import XCTest

/// Collects what a provider reports.
final class CollectingSink: ProviderSink, Sendable {
    struct State {
        var updates: [ProviderUpdate] = []
        var successes = 0
        var failures: [String] = []
        var lastPublishAt: ContinuousClock.Instant?
    }
    let state = Mutex(State())

    func publish(_ update: ProviderUpdate) async {
        state.withLock {
            $0.updates.append(update)
            $0.lastPublishAt = .now
        }
    }
    func reportSuccess(provider: String) async { state.withLock { $0.successes += 1 } }
    func reportFailure(provider: String, error: String) async { state.withLock { $0.failures.append(error) } }

    var updates: [ProviderUpdate] { state.withLock { $0.updates } }
    var failures: [String] { state.withLock { $0.failures } }
}

final class FileProviderTests: XCTestCase {
    var dir: TemporaryDirectory!

    override func setUp() async throws { dir = try TemporaryDirectory() }
    override func tearDown() async throws { dir.remove() }

    func make(_ config: String, sources: [SourceSpec]) throws -> any DiscoveryProvider {
        let json = try JSONValue.parse(config)
        return try FileProviderFactory().makeProvider(
            config: json, path: "providers.file", sources: sources,
            context: ProviderContext(environment: [:], logger: Logger(label: "test"), configDirectory: dir.path)
        )
    }

    func test_instances_file_is_parsed_with_every_field() throws {
        let text = #"{"services": {"web": [{"id": "web-1", "address": "10.0.0.1", "port": 8080, "weight": 100, "health": "warning", "tags": ["v2"], "meta": {"az": "a"}}, {"address": "::1"}]}}"#
        let services = try InstancesFile.parse(Array(text.utf8), file: "f.json")
        XCTAssertEqual(services["web"], [
            Instance(id: "web-1", address: "10.0.0.1", port: 8080, weight: 100, health: .warning, tags: ["v2"], meta: ["az": "a"]),
            Instance(id: "[::1]:0", address: "::1"),
        ])
    }

    func test_malformed_instances_name_the_file_and_the_json_path() {
        let cases: [(String, String)] = [
            (#"{"services": {"web": [{"id": "a", "address": "web.example"}]}}"#, "services.web[0].address"),
            (#"{"services": {"web": [{"id": "a", "address": "10.0.0.1", "port": 70000}]}}"#, "services.web[0].port"),
            (#"{"services": {"web": [{"id": "a", "address": "10.0.0.1", "weight": 300}]}}"#, "services.web[0].weight"),
            (#"{"services": {"web": [{"id": "a", "address": "10.0.0.1", "health": "ok"}]}}"#, "services.web[0].health"),
            (#"{"services": {"web": [{"id": "a", "address": "10.0.0.1", "colour": "red"}]}}"#, "services.web[0].colour: unknown key"),
            (#"{"services": {"web": [{"id": "a", "address": "10.0.0.1"}, {"id": "a", "address": "10.0.0.2"}]}}"#, "services.web[1].id: duplicate"),
            (#"{"services": {"web": {}}}"#, "services.web: expected an array"),
            (#"{"servics": {}}"#, "services"),
            (#"{"services": {"web": [}"#, "not valid JSON"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try InstancesFile.parse(Array(text.utf8), file: "/etc/x.json"), text) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error) should contain \(expected)")
                XCTAssertTrue("\(error)".contains("/etc/x.json"), "\(error) should name the file")
            }
        }
    }

    func test_config_errors_name_the_path() {
        XCTAssertThrowsError(try make(#"{}"#, sources: [])) { XCTAssertTrue("\($0)".contains("providers.file.path"), "\($0)") }
        XCTAssertThrowsError(try make(#"{"path": "x", "poll": "1s"}"#, sources: [])) { XCTAssertTrue("\($0)".contains("providers.file.poll: unknown key"), "\($0)") }
        XCTAssertThrowsError(try make(#"{"path": "x", "poll_interval": "fast"}"#, sources: [])) { XCTAssertTrue("\($0)".contains("providers.file.poll_interval"), "\($0)") }
        let badSource = SourceSpec(provider: "file", service: "web", options: ["tag": .string("x")], path: "backends[0].sources[0]")
        XCTAssertThrowsError(try make(#"{"path": "x"}"#, sources: [badSource])) { XCTAssertTrue("\($0)".contains("backends[0].sources[0].tag: unknown key"), "\($0)") }
    }

    func test_a_change_is_published_within_milliseconds_and_a_bad_file_keeps_the_last_good() async throws {
        let file = dir.file("instances.json")
        try dir.write("instances.json", #"{"services": {"web": [{"id": "a", "address": "10.0.0.1", "port": 80}]}}"#)
        let web = SourceSpec(provider: "file", service: "web")
        let v2 = SourceSpec(provider: "file", service: "web", options: ["tags": .array([.string("v2")])])
        let provider = try make(#"{"path": "instances.json", "poll_interval": "10s"}"#, sources: [web, v2])
        let sink = CollectingSink()
        let task = Task { try await provider.run(sink: sink) }
        defer { task.cancel() }
        try await eventually("first snapshot") { sink.updates.count == 1 }
        XCTAssertEqual(sink.updates[0].sources[web.key]?.map(\.id), ["a"])
        XCTAssertEqual(sink.updates[0].sources[v2.key]?.map(\.id), [])

        // A rewrite through a temp file and rename, as editors and config management do.
        var latencies: [Duration] = []
        for i in 0..<20 {
            let text = #"{"services": {"web": [{"id": "a", "address": "10.0.0.1", "port": 80}, {"id": "b\#(i)", "address": "10.0.0.2", "port": 80, "tags": ["v2"]}]}}"#
            try text.write(toFile: file + ".tmp", atomically: false, encoding: .utf8)
            let start = ContinuousClock.now
            rename(file + ".tmp", file)
            try await eventually("update \(i)", timeout: .seconds(3), every: .milliseconds(1)) { sink.updates.count == 2 + i }
            latencies.append((sink.state.withLock { $0.lastPublishAt } ?? start) - start)
        }
        XCTAssertEqual(sink.updates.last?.sources[v2.key]?.map(\.id), ["b19"])
        let sorted = latencies.sorted()
        print("figure: file change to publish: median \(sorted[sorted.count / 2]), max \(sorted.last ?? .zero) over \(sorted.count) changes (poll fallback is 10s, so this is inotify)")

        // In-place write (truncate + write), the way `echo > file` does it.
        try #"{"services": {"web": []}}"#.write(toFile: file, atomically: false, encoding: .utf8)
        try await eventually("in-place write seen") { sink.updates.last?.sources[web.key]?.isEmpty == true }

        let published = sink.updates.count
        try #"{"services": {"web": [{"id": "a", "address": "nope"}]}}"#.write(toFile: file, atomically: false, encoding: .utf8)
        try await eventually("failure reported") { sink.failures.contains { $0.contains("services.web[0].address") } }
        try await Task.sleep(for: .milliseconds(50))
        XCTAssertEqual(sink.updates.count, published, "a malformed file publishes nothing")

        try FileManager.default.removeItem(atPath: file)
        try await eventually("deletion reported") { sink.failures.contains { $0.contains("no such file") } }
        XCTAssertEqual(sink.updates.count, published, "a deleted file publishes nothing")
    }

    func test_a_rewrite_publishes_only_the_sources_whose_lists_changed() async throws {
        let file = dir.file("instances.json")
        func write(_ webAddress: String, _ apiAddress: String) throws {
            let text = #"{"services": {"web": [{"id": "w", "address": "\#(webAddress)", "port": 80}], "api": [{"id": "a", "address": "\#(apiAddress)", "port": 80}]}}"#
            try text.write(toFile: file + ".tmp", atomically: false, encoding: .utf8)
            rename(file + ".tmp", file)
        }
        try write("10.0.0.1", "10.0.1.1")
        let web = SourceSpec(provider: "file", service: "web"), api = SourceSpec(provider: "file", service: "api")
        let provider = try make(#"{"path": "instances.json", "poll_interval": "10s"}"#, sources: [web, api])
        let sink = CollectingSink()
        let task = Task { try await provider.run(sink: sink) }
        defer { task.cancel() }
        try await eventually("first snapshot") { sink.updates.count == 1 }
        XCTAssertEqual(Set(sink.updates[0].sources.keys), [web.key, api.key], "the first answer names every source")
        try write("10.0.0.2", "10.0.1.1")
        try await eventually("web's change") { sink.updates.count == 2 }
        XCTAssertEqual(Set(sink.updates[1].sources.keys), [web.key], "api's list did not change: it keeps what it had")
        XCTAssertEqual(sink.updates[1].sources[web.key]?.map(\.address), ["10.0.0.2"])
        try write("10.0.0.2", "10.0.1.1")
        try await Task.sleep(for: .milliseconds(100))
        XCTAssertEqual(sink.updates.count, 2, "a rewrite that changes nothing publishes nothing")
    }

    func test_without_inotify_events_the_periodic_check_still_notices() async throws {
        // A folder watched through a symlinked path whose events we skip: the identity check covers it.
        try dir.write("instances.json", #"{"services": {"web": []}}"#)
        let provider = try make(#"{"path": "instances.json", "poll_interval": "50ms"}"#, sources: [SourceSpec(provider: "file", service: "web")])
        let sink = CollectingSink()
        let task = Task { try await provider.run(sink: sink) }
        defer { task.cancel() }
        try await eventually("first snapshot") { sink.updates.count == 1 }
        try await Task.sleep(for: .milliseconds(100))
        XCTAssertGreaterThan(sink.state.withLock { $0.successes }, 1, "success is reported on every check, for staleness")
    }

    func test_cancellation_stops_the_provider_promptly() async throws {
        try dir.write("instances.json", #"{"services": {}}"#)
        let provider = try make(#"{"path": "instances.json", "poll_interval": "1m"}"#, sources: [])
        let task = Task { try await provider.run(sink: CollectingSink()) }
        try await Task.sleep(for: .milliseconds(50))
        let start = ContinuousClock.now
        task.cancel()
        _ = try? await task.value
        XCTAssertLessThan(ContinuousClock.now - start, .milliseconds(500))
    }
}
