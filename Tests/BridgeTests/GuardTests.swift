import Bridge
import DiscoveryCore
import Foundation
import StateStore
import TestSupport
import XCTest

/// The guard against a real HAProxy: discovery can never empty a backend by accident.
final class GuardTests: XCTestCase {
    var haproxy: HAProxyInstance?
    var harness: BridgeHarness?

    override func tearDown() async throws {
        await harness?.cleanup()
        haproxy?.cleanup()
    }

    func start(guardJSON: String, count: Int) async throws -> BridgeHarness {
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 10)])
        haproxy = h
        let bridge = try BridgeHarness(haproxy: h, backendsJSON: """
        [{ "name": "web", "slots": 10, "port": 8080, "server_options": "", "drain_timeout": "100ms",
           "sources": [{ "provider": "file", "service": "web" }] }]
        """, extra: "\"guard\": \(guardJSON)")
        harness = bridge
        try bridge.writeInstances(["web": (1...count).map { ("i\($0)", 20000 + $0, nil) }])
        try bridge.start()
        try await eventually("\(count) ready") { try await bridge.ready("web").count == count }
        return bridge
    }

    func test_an_empty_answer_is_held_and_nothing_is_removed() async throws {
        let bridge = try await start(guardJSON: #"{"max_removed_fraction": 0.5, "min_servers": 1, "confirm_after": "300ms", "allow_empty": false}"#, count: 5)
        try bridge.writeInstances(["web": []])
        try await eventually("hold recorded") { await bridge.reconciler?.guardHolds()["web"] != nil }
        try await Task.sleep(for: .milliseconds(700))
        let ready = try await bridge.ready("web")
        XCTAssertEqual(ready.count, 5, "allow_empty is false: an empty answer is never applied")
        let hold = await bridge.reconciler?.guardHolds()["web"]
        XCTAssertTrue(hold?.reason.contains("empty answer") ?? false, "\(hold as Any)")
        XCTAssertEqual(hold?.wouldRemove, 5)
        // Shown by `status` (from the state file).
        try await eventually("hold persisted") { (try? StateStore(path: bridge.statePath).load())??.guardHolds["web"] != nil }
        let status = try await runCommand(bridgeExecutable, ["status", "--config", bridge.dir.file("config.json")])
        XCTAssertTrue(status.stdout.contains("guard holding web"), status.stdout)
        XCTAssertTrue(status.stdout.contains("empty answer"), status.stdout)
        // The answer comes back: the hold ends, nothing was lost.
        try bridge.writeInstances(["web": (1...5).map { ("i\($0)", 20000 + $0, nil) }])
        try await eventually("hold cleared") { await bridge.reconciler?.guardHolds()["web"] == nil }
    }

    func test_a_60_percent_drop_is_held_then_released_after_confirm_after() async throws {
        let bridge = try await start(guardJSON: #"{"max_removed_fraction": 0.5, "min_servers": 1, "confirm_after": "500ms"}"#, count: 10)
        let heldAt = ContinuousClock.now
        try bridge.writeInstances(["web": (1...4).map { ("i\($0)", 20000 + $0, nil) }])
        try await eventually("hold recorded") { await bridge.reconciler?.guardHolds()["web"] != nil }
        let during = try await bridge.ready("web")
        XCTAssertEqual(during.count, 10, "held: all ten stay")
        let hold = await bridge.reconciler?.guardHolds()["web"]
        XCTAssertTrue(hold?.reason.contains("60%") ?? false, "\(hold as Any)")
        // Additions are never held, even while a removal is.
        try bridge.writeInstances(["web": (1...4).map { ("i\($0)", 20000 + $0, nil) } + [("new", 20100, nil)]])
        try await eventually("addition applied during the hold") { try await bridge.ready("web").values.contains("127.0.0.1:20100") }
        // The same answer persists: released after confirm_after, and the six drain away.
        try await eventually("released", timeout: .seconds(5)) { try await bridge.ready("web").count == 5 }
        let elapsed = ContinuousClock.now - heldAt
        XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(450))
        let releases = bridge.metrics?.total(.guardReleases) ?? 0
        XCTAssertGreaterThanOrEqual(releases, 1)
    }

    func test_a_small_removal_is_applied_at_once() async throws {
        let bridge = try await start(guardJSON: #"{"max_removed_fraction": 0.5, "min_servers": 1, "confirm_after": "30s"}"#, count: 4)
        try bridge.writeInstances(["web": (1...3).map { ("i\($0)", 20000 + $0, nil) }])
        try await eventually("one removed at once", timeout: .seconds(2)) { try await bridge.ready("web").count == 3 }
        let holds = await bridge.reconciler?.guardHolds() ?? [:]
        XCTAssertTrue(holds.isEmpty)
    }
}
