import Bridge
import DiscoveryCore
import HAProxyRuntime
import StateStore
import XCTest

/// The planning a streamed batch runs backend by backend: the same plans as planning everything at once, and after
/// a live read only what drifted (or everything, after a restart).
final class PlanFeedTests: XCTestCase {
    let names = ["web", "api", "img"]

    func config() throws -> BridgeConfig {
        let backends = names.map { #"{ "name": "\#($0)", "slots": 3, "port": 8080, "server_options": "", "sources": [{ "provider": "file", "service": "\#($0)" }] }"# }
        let text = """
        { "haproxy": { "runtime_api": "unix:/nonexistent.sock" }, "state_file": "/nonexistent/state.json",
          "providers": { "file": { "path": "/nonexistent/instances.json" } }, "backends": [\(backends.joined(separator: ","))] }
        """
        return try ConfigLoader.parse(try JSONValue.parse(text), factories: ["file"])
    }

    var snapshots: [String: [Instance]] {
        Dictionary(uniqueKeysWithValues: names.enumerated().map { ("file:\($0.element)", [Instance(id: "\($0.element)1", address: "10.0.0.\($0.offset + 1)", port: 80)]) })
    }

    /// HAProxy fresh from haproxy.cfg: every slot at the placeholder, in maintenance.
    var freshLive: [String: [String: LiveServer]] {
        Dictionary(uniqueKeysWithValues: names.map { name in (name, Dictionary(uniqueKeysWithValues: (1...3).map { ("slot\($0)", LiveServer.placeholder("slot\($0)")) })) })
    }

    func info(pid: Int) throws -> HAProxyInfo { try RuntimeParsers.info("Pid: \(pid)\nStart_time_sec: 7\n") }

    func test_a_feed_plans_each_changed_backend_exactly_as_planning_them_all_at_once() throws {
        let config = try config()
        var feed = PlanFeed(backends: config.backends, toPlan: ["web", "img"], tables: [:], live: freshLive, snapshots: snapshots,
                            sessions: [:], holds: [:], suspect: [:], now: 1_800_000_000)
        let actions = try XCTUnwrap(feed.drain(live: nil))
        let all = Planning.plan(backends: config.backends.filter { $0.name != "api" }, tables: [:], live: freshLive, snapshots: snapshots, sessions: [:], now: 1_800_000_000)
        XCTAssertEqual(feed.items.map(\.plan.backend), ["web", "img"], "in config order, only the changed ones")
        XCTAssertEqual(actions, all.flatMap(\.plan.commands))
        XCTAssertEqual(feed.items.map(\.plan.slots), all.map(\.plan.slots))
        XCTAssertTrue(feed.unplanned.isEmpty)
    }

    func test_after_a_live_read_of_the_same_process_only_the_backend_that_drifted_is_planned() throws {
        let config = try config()
        // What the last batch left: every backend planned and applied.
        var first = PlanFeed(backends: config.backends, toPlan: Set(names), tables: [:], live: freshLive, snapshots: snapshots,
                             sessions: [:], holds: [:], suspect: [:], now: 1_800_000_000)
        _ = first.drain(live: nil)
        let tables = Dictionary(uniqueKeysWithValues: first.items.map { ($0.plan.backend, $0.plan.slots) })
        let expected = Dictionary(uniqueKeysWithValues: first.items.map { ($0.plan.backend, TableAdoption.expectedLive($0.plan.slots, previous: freshLive[$0.plan.backend] ?? [:])) })
        var drifted = expected
        drifted["api"]?["slot1"]?.admin = .maint
        let identity = HAProxyIdentity(pid: 42, startTimeSec: 7)

        var same = PlanFeed(backends: config.backends, toPlan: [], tables: tables, live: [:], snapshots: snapshots, sessions: [:], holds: [:],
                            suspect: [:], now: 1_800_000_010, liveRead: .init(identity: identity, expected: expected, requiredPID: nil))
        let repair = try XCTUnwrap(same.drain(live: LiveState(info: try info(pid: 42), backends: drifted)))
        XCTAssertTrue(same.sameProcess)
        XCTAssertEqual(same.items.map(\.plan.backend), ["api"])
        XCTAssertEqual(repair, [.setState(backend: "api", server: "slot1", state: .ready)])
        XCTAssertEqual(same.live, drifted, "the feed hands back what it read")

        var restarted = PlanFeed(backends: config.backends, toPlan: [], tables: tables, live: [:], snapshots: snapshots, sessions: [:], holds: [:],
                                 suspect: [:], now: 1_800_000_010, liveRead: .init(identity: identity, expected: expected, requiredPID: nil))
        _ = restarted.drain(live: LiveState(info: try info(pid: 43), backends: freshLive))
        XCTAssertFalse(restarted.sameProcess)
        XCTAssertEqual(Set(restarted.items.map(\.plan.backend)), Set(names), "a new process: every backend is re-applied")
    }

    func test_a_live_read_from_another_worker_than_the_reload_started_is_refused_and_nothing_planned() throws {
        let config = try config()
        var feed = PlanFeed(backends: config.backends, toPlan: Set(names), tables: [:], live: [:], snapshots: snapshots, sessions: [:], holds: [:],
                            suspect: [:], now: 1_800_000_000, liveRead: .init(identity: nil, expected: nil, requiredPID: 50))
        XCTAssertNil(feed.drain(live: LiveState(info: try info(pid: 49), backends: freshLive)))
        XCTAssertTrue(feed.refusedWorker)
        XCTAssertTrue(feed.items.isEmpty)
        XCTAssertEqual(feed.unplanned, Set(names), "the step keeps them to plan")
    }

    func test_a_backend_haproxy_lacks_is_planned_after_the_live_read_with_no_servers() throws {
        let config = try config()
        var live = freshLive
        live["img"] = nil
        var feed = PlanFeed(backends: config.backends, toPlan: Set(names), tables: [:], live: [:], snapshots: snapshots, sessions: [:], holds: [:],
                            suspect: [:], now: 1_800_000_000, liveRead: .init(identity: nil, expected: nil, requiredPID: nil))
        _ = feed.drain(live: LiveState(info: try info(pid: 1), backends: live))
        XCTAssertEqual(feed.items.last?.plan.backend, "img", "the backends the answer lacked come after it")
        XCTAssertEqual(feed.items.last?.plan.missingServers.count, 3)
    }
}
