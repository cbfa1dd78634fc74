import Bridge
import DiscoveryCore
import Synchronization
import XCTest

/// The reconcile step tells a provider "this instance takes no traffic anywhere" only after the batch that freed its
/// last slot, on a manual clock (the EC2 provider completes Auto Scaling lifecycle actions with it).
final class TrafficReleaseStepTests: XCTestCase {
    final class Receiver: TrafficReleaseReceiver {
        let heard = Mutex<[[String]]>([])
        func noLongerServing(_ ids: [String]) { heard.withLock { $0.append(ids) } }
    }

    let config = """
    {
      "haproxy": { "runtime_api": "unix:/nonexistent.sock", "resync_interval": "10s", "drain_check_interval": "1s", "restart_check_interval": "1s" },
      "state_file": "/nonexistent/state.json",
      "providers": { "file": { "path": "/nonexistent/instances.json" } },
      "guard": { "max_removed_fraction": 1.0, "min_servers": 0 },
      "coalesce": "5ms",
      "backends": [{ "name": "web", "slots": 3, "port": 8080, "server_options": "", "drain_timeout": "30s",
                     "sources": [{ "provider": "file", "service": "web" }] }]
    }
    """

    func test_a_watched_instance_is_announced_after_its_drain_ends_and_not_before() throws {
        var d = try StepDriver(config: config)
        d.publish("web", [instance("i1", 8001), instance("i2", 8002)])
        d.runNextWake()
        d.haproxy.sessions = ["web": ["slot2": 2]]
        let receiver = Receiver()
        // The provider drains i2 (maintenance) and asks to hear once it takes no traffic.
        var i2 = instance("i2", 8002)
        i2.health = .maintenance
        d.send(.snapshot(ProviderUpdate(provider: "file", sources: ["file:web": [instance("i1", 8001), i2]],
                                        releaseWatch: ReleaseWatch(ids: ["i2"], receiver: receiver))))
        d.runNextWake()
        XCTAssertEqual(d.table("web")["slot2"], "file/i2@draining")
        d.advance(.seconds(1))
        d.tickIfDue()
        XCTAssertEqual(d.released, [], "still two sessions: nothing announced")
        d.haproxy.sessions = ["web": ["slot2": 0]]
        d.advance(.seconds(1))
        d.tickIfDue()
        XCTAssertEqual(d.released, [["i2"]], "announced in the cycle whose batch freed the slot")
        XCTAssertEqual(receiver.heard.withLock { $0 }, [], "the step only returns the effect; the actor delivers it")
        d.advance(.seconds(10))
        d.tickIfDue()
        XCTAssertEqual(d.released, [["i2"]], "once")
    }

    func test_a_watch_for_an_instance_without_a_slot_is_answered_at_the_next_cycle() throws {
        var d = try StepDriver(config: config)
        d.publish("web", [instance("i1", 8001)])
        d.runNextWake()
        let effects = d.send(.snapshot(ProviderUpdate(provider: "file", sources: ["file:web": [instance("i1", 8001)]],
                                                      releaseWatch: ReleaseWatch(ids: ["i9"], receiver: Receiver()))))
        XCTAssertEqual(effects.map(\.name), ["scheduleWake"], "a new watch wakes the step even with no snapshot change")
        d.runNextWake()
        XCTAssertEqual(d.released, [["i9"]])
    }
}
