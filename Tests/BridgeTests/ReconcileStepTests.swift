import Bridge
import DiscoveryCore
import XCTest

/// The reconciler's timing rules, driven through the pure step on a manual clock (no HAProxy, no sleeping).
final class ReconcileStepTests: XCTestCase {
    func config(slots: Int = 3, drainTimeout: String = "30s", guardBlock: String = #""guard": { "max_removed_fraction": 1.0, "min_servers": 0 },"#,
                coalesce: String = #""coalesce": "5ms","#) -> String {
        """
        {
          "haproxy": { "runtime_api": "unix:/nonexistent.sock", "resync_interval": "10s", "drain_check_interval": "1s", "restart_check_interval": "1s" },
          "state_file": "/nonexistent/state.json",
          "providers": { "file": { "path": "/nonexistent/instances.json" } },
          \(guardBlock)
          \(coalesce)
          "backends": [{ "name": "web", "slots": \(slots), "port": 8080, "server_options": "", "drain_timeout": "\(drainTimeout)",
                         "sources": [{ "provider": "file", "service": "web" }] }]
        }
        """
    }

    /// A driver that has applied `ports` (one instance each) and is ready.
    func synced(_ ports: [Int], config text: String? = nil) throws -> StepDriver {
        var d = try StepDriver(config: text ?? config())
        d.publish("web", ports.enumerated().map { instance("i\($0.offset + 1)", $0.element) })
        d.runNextWake()
        return d
    }

    func test_the_first_cycle_reads_live_state_applies_one_batch_persists_and_marks_ready() throws {
        var d = try StepDriver(config: config())
        XCTAssertEqual(d.step.nextWake(now: d.now), d.now.instant, "a fresh bridge reads HAProxy at once")
        d.publish("web", [instance("a", 8001), instance("b", 8002)])
        let effects = d.runNextWake().map(\.name)
        XCTAssertEqual(effects, ["closeConnection", "readLiveAndApply", "persist", "batchApplied", "markReady", "scheduleWake"],
                       "the live read is the batch's first part: each backend is planned as its servers arrive")
        XCTAssertEqual(d.batches.count, 1, "every backend's commands go in one batch")
        XCTAssertEqual(d.ready("web"), ["10.0.0.1:8001", "10.0.0.1:8002"])
        XCTAssertEqual(d.readyCount, 1)
        XCTAssertEqual(d.metrics.total(.reconcileCycles), 1)
        XCTAssertEqual(d.metrics.total(.runtimeCommands), d.batches[0].commandCount)
    }

    func test_a_batch_says_where_the_time_of_its_oldest_change_went() throws {
        var d = try synced([8001])
        d.batchLegs = (toThread: .microseconds(100), onThread: .microseconds(300), back: .microseconds(50))
        let changed = d.now.instant
        d.publish("web", [instance("i1", 8001), instance("i2", 8002)])
        while d.applied.count < 2, d.now.instant < changed + .seconds(1) { d.runNextWake() }
        let batch = try XCTUnwrap(d.applied.last)
        let t = try XCTUnwrap(batch.timeline, "a batch that carried a change has a timeline")
        XCTAssertEqual(t.toThread, 0.0001, accuracy: 1e-9)
        XCTAssertEqual(t.onThread, 0.0003, accuracy: 1e-9)
        XCTAssertEqual(t.back, 0.00005, accuracy: 1e-9)
        XCTAssertEqual(t.toBatch + t.toThread + t.onThread + t.back, try XCTUnwrap(batch.changeToApplied.first), accuracy: 1e-9,
                       "the legs add up to the change's change→applied")
    }

    func test_readiness_waits_for_every_source_or_the_ready_grace() throws {
        var d = try StepDriver(config: config())
        d.runNextWake()
        XCTAssertTrue(d.step.firstSyncDone)
        XCTAssertEqual(d.readyCount, 0, "the source has not answered yet")
        d.advance(ReconcileStep.readyGrace)
        while d.readyCount == 0, d.now.instant < ContinuousClock.now + .seconds(120) { d.runNextWake() }
        XCTAssertEqual(d.readyCount, 1, "ready after the grace period with the remembered slots")
    }

    func test_snapshots_are_coalesced_for_the_coalesce_delay() throws {
        var d = try synced([8001])
        let t0 = d.now.instant
        d.publish("web", [instance("i1", 8001), instance("i2", 8002)])
        XCTAssertEqual(d.step.nextWake(now: d.now), t0 + .milliseconds(5))
        d.advance(.milliseconds(2))
        d.publish("web", [instance("i1", 8001), instance("i2", 8002), instance("i3", 8003)])
        XCTAssertEqual(d.step.nextWake(now: d.now), t0 + .milliseconds(5), "a later change does not push the cycle back")
        XCTAssertTrue(d.tickIfDue().isEmpty, "nothing runs before the delay")
        d.runNextWake()
        XCTAssertEqual(d.batches.count, 2, "both changes in one batch")
        XCTAssertEqual(d.ready("web").count, 3)
    }

    func test_adaptive_coalescing_applies_the_first_change_at_once_and_what_arrives_during_a_batch_as_the_next_one() throws {
        var d = try synced([8001], config: config(slots: 5, coalesce: ""))
        d.advance(.milliseconds(300))
        let before = d.batches.count
        d.publish("web", [instance("i1", 8001), instance("i2", 8002)])
        XCTAssertEqual(d.step.nextWake(now: d.now), d.now.instant, "the first change after a quiet period goes at once")
        d.duringNextBatch = { d in
            d.publish("web", [instance("i1", 8001), instance("i2", 8002), instance("i3", 8003)])
            d.advance(.microseconds(300))
            d.publish("web", [instance("i1", 8001), instance("i2", 8002), instance("i3", 8003), instance("i4", 8004)])
            XCTAssertNil(d.step.nextWake(now: d.now), "nothing else starts while a batch is in flight")
        }
        XCTAssertEqual(d.tickIfDue().map(\.name).first, "apply")
        XCTAssertEqual(d.batches.count, before + 1)
        XCTAssertEqual(d.step.nextWake(now: d.now), d.now.instant, "what arrived during the batch is due as soon as it ends")
        d.tickIfDue()
        XCTAssertEqual(d.batches.count, before + 2, "the two later changes leave together, in one batch")
        XCTAssertEqual(d.ready("web").count, 4)
        XCTAssertNotEqual(d.step.nextWake(now: d.now), d.now.instant, "then quiet again")
    }

    func test_a_waiting_change_goes_out_before_a_due_pid_check_which_follows_at_once() throws {
        var d = try synced([8001], config: config(coalesce: ""))
        d.advance(.milliseconds(1200))
        d.publish("web", [instance("i1", 8001), instance("i2", 8002)])
        XCTAssertEqual(d.tickIfDue().map(\.name).first, "apply", "the change does not wait for the pid check's round trip")
        XCTAssertEqual(d.ready("web").count, 2)
        XCTAssertEqual(d.step.nextWake(now: d.now), d.now.instant - .milliseconds(200), "the overdue check is due at once")
        XCTAssertEqual(d.tickIfDue().map(\.name).first, "probeIdentity")

        // A check overdue by a whole interval runs first even with a change waiting.
        d.advance(.milliseconds(2100))
        d.publish("web", [instance("i1", 8001)])
        XCTAssertEqual(d.tickIfDue().map(\.name).first, "probeIdentity")
    }

    func test_an_unchanged_snapshot_wakes_nothing() throws {
        var d = try synced([8001])
        let effects = d.send(.snapshot(ProviderUpdate(provider: "file", sources: ["file:web": [instance("i1", 8001)]])))
        XCTAssertTrue(effects.isEmpty)
        XCTAssertTrue(d.step.dirty.isEmpty)
    }

    func test_a_late_snapshot_for_a_source_no_backend_reads_is_ignored() throws {
        var d = try synced([8001])
        let effects = d.send(.snapshot(ProviderUpdate(provider: "consul", sources: ["consul:gone": [instance("x", 1)]])))
        XCTAssertTrue(effects.isEmpty)
        XCTAssertNil(d.step.discoveredCounts["consul:gone"])
    }

    func test_the_pid_is_checked_every_restart_check_interval_and_a_new_pid_reapplies_every_slot() throws {
        var d = try synced([8001, 8002])
        let wake = try XCTUnwrap(d.step.nextWake(now: d.now))
        XCTAssertEqual(wake, d.now.instant + .seconds(1), "the restart check is the next timer")
        XCTAssertEqual(d.runNextWake().map(\.name), ["probeIdentity", "scheduleWake"], "same pid: nothing else")

        d.haproxy.restart()
        XCTAssertTrue(d.ready("web").isEmpty, "HAProxy forgot every runtime change")
        let effects = d.runNextWake().map(\.name)
        XCTAssertEqual(Array(effects.prefix(4)), ["probeIdentity", "closeConnection", "closeConnection", "readLiveAndApply"])
        XCTAssertEqual(d.ready("web"), ["10.0.0.1:8001", "10.0.0.1:8002"], "re-applied")
        XCTAssertEqual(d.metrics.total(.haproxyRestarts), 1)
        XCTAssertEqual(d.persisted.last?.haproxy?.pid, d.haproxy.pid, "the new identity is recorded with the table")
    }

    func test_resync_rereads_live_state_and_an_undrifted_haproxy_costs_no_commands() throws {
        var d = try synced([8001])
        let batches = d.batches.count
        var reads = 0
        for _ in 0..<12 {
            d.advance(.seconds(1))
            reads += d.tickIfDue().filter(\.readsLive).count
        }
        XCTAssertEqual(reads, 1, "one re-read per 10 s resync interval")
        XCTAssertEqual(d.batches.count, batches, "nothing drifted, nothing sent")

        d.haproxy.servers["web"]?["slot1"]?.admin = .maint
        d.advance(.seconds(10))
        d.tickIfDue()
        XCTAssertEqual(d.batches.count, batches + 1, "drift is repaired at the next resync")
        XCTAssertEqual(d.ready("web"), ["10.0.0.1:8001"])
    }

    func test_a_gone_instance_drains_until_its_sessions_end_then_frees_its_slot() throws {
        var d = try synced([8001, 8002])
        d.haproxy.sessions = ["web": ["slot2": 3]]
        d.publish("web", [instance("i1", 8001)])
        d.runNextWake()
        XCTAssertEqual(d.table("web")["slot2"], "file/i2@draining")
        d.advance(.seconds(1))
        XCTAssertTrue(d.tickIfDue().contains { $0.name == "readSessions" }, "sessions of draining servers are read every drain check")
        XCTAssertEqual(d.table("web")["slot2"], "file/i2@draining", "still has sessions")
        d.haproxy.sessions = ["web": ["slot2": 0]]
        d.advance(.seconds(1))
        d.tickIfDue()
        XCTAssertNotEqual(d.table("web")["slot2"], "file/i2@draining", "no sessions left: the slot is freed")
        XCTAssertFalse(d.ready("web").contains("10.0.0.1:8002"))
    }

    func test_drain_timeout_forces_the_slot_out_at_its_deadline_even_with_sessions() throws {
        var d = try synced([8001, 8002], config: config(drainTimeout: "5s"))
        d.haproxy.sessions = ["web": ["slot2": 7]]
        d.publish("web", [instance("i1", 8001)])
        d.runNextWake()
        XCTAssertEqual(d.table("web")["slot2"], "file/i2@draining")
        let drainStart = d.now.wall
        while d.table("web")["slot2"] == "file/i2@draining", d.now.wall < drainStart + 10 {
            d.runNextWake()
        }
        XCTAssertGreaterThanOrEqual(d.now.wall, drainStart + 5, "not before the drain timeout")
        XCTAssertLessThan(d.now.wall, drainStart + 5.1, "woken at the deadline, not at a later timer")
        XCTAssertNotEqual(d.table("web")["slot2"], "file/i2@draining")
    }

    func test_a_destructive_change_is_held_then_applied_after_confirm_after() throws {
        let guarded = config(slots: 5, guardBlock: #""guard": { "max_removed_fraction": 0.5, "min_servers": 0, "confirm_after": "20s" },"#)
        var d = try synced([8001, 8002, 8003, 8004], config: guarded)
        let heldAt = d.now.wall
        d.publish("web", [instance("i1", 8001)])
        d.runNextWake()
        XCTAssertNotNil(d.step.holds["web"], "three of four removed: held")
        XCTAssertEqual(d.ready("web").count, 4, "the last good servers stay")
        XCTAssertEqual(d.metrics.total(.guardHolds), 1)
        XCTAssertNotNil(d.persisted.last?.guardHolds["web"], "the hold is persisted for `status`")

        while d.step.holds["web"] != nil, d.now.wall < heldAt + 60 { d.runNextWake() }
        XCTAssertGreaterThanOrEqual(d.now.wall, heldAt + 20, "not released before confirm_after")
        XCTAssertLessThan(d.now.wall, heldAt + 21, "released when confirm_after is due")
        XCTAssertEqual(d.metrics.total(.guardReleases), 1)
        XCTAssertEqual(d.table("web").values.filter { $0.hasSuffix("@active") }.count, 1)
    }

    func test_unreachable_haproxy_is_retried_with_growing_backoff_and_recovers() throws {
        var d = try StepDriver(config: config())
        d.haproxy.reachable = false
        d.publish("web", [instance("a", 8001)])
        d.runNextWake()
        let firstRetry = try XCTUnwrap(d.step.retryAt)
        XCTAssertNotNil(d.step.lastError)
        // Full jitter may draw a 0 ms delay; only a positive one leaves an instant with nothing due.
        if firstRetry > d.now.instant { XCTAssertTrue(d.tickIfDue().isEmpty, "no retry before the backoff delay") }
        var delays: [Duration] = [firstRetry - d.now.instant]
        for _ in 0..<6 {
            d.runNextWake()
            delays.append(try XCTUnwrap(d.step.retryAt) - d.now.instant)
        }
        XCTAssertEqual(d.metrics.total(.haproxyErrors), 7)
        // Each delay is drawn under its attempt's ceiling, which doubles from 100 ms up to the 5 s cap.
        let rule = Backoff()
        for (n, delay) in delays.enumerated() {
            XCTAssertLessThanOrEqual(delay, rule.ceiling(attempt: n), "attempt \(n): \(delays)")
        }
        // Growth: all six later draws staying under the first ceiling has a chance of about 3 in a million.
        XCTAssertGreaterThan(delays.dropFirst().max() ?? .zero, rule.ceiling(attempt: 0), "grows: \(delays)")
        XCTAssertEqual(rule.ceiling(attempt: 6), .seconds(5), "capped")

        d.haproxy.reachable = true
        d.runNextWake()
        XCTAssertNil(d.step.retryAt)
        XCTAssertNil(d.step.lastError)
        XCTAssertEqual(d.ready("web"), ["10.0.0.1:8001"])
    }

    func test_a_refused_batch_rereads_live_state_after_a_backoff() throws {
        var d = try synced([8001])
        d.haproxy.refuseNext = true
        d.publish("web", [instance("i1", 8001), instance("i2", 8002)])
        d.runNextWake()
        XCTAssertNotNil(d.step.retryAt, "refused commands back off")
        XCTAssertNil(d.step.live, "and re-read what HAProxy really has")
        XCTAssertEqual(d.metrics.total(.runtimeCommandFailures), d.batches.last?.commandCount)
        let effects = d.runNextWake().map(\.name)
        XCTAssertEqual(Array(effects.prefix(2)), ["closeConnection", "readLiveAndApply"])
        XCTAssertEqual(d.ready("web").count, 2)
    }

    func test_an_old_worker_answer_reconnects_and_resends_without_backoff() throws {
        var d = try synced([8001])
        d.haproxy.oldWorkerNext = true
        d.publish("web", [instance("i1", 8001), instance("i2", 8002)])
        let effects = d.runNextWake().map(\.name)
        XCTAssertTrue(effects.contains("closeConnection"))
        XCTAssertNil(d.step.retryAt, "a reload is not a failure to back off from")
        XCTAssertEqual(d.metrics.total(.runtimeCommandFailures), 0, "nor a refusal the alert would fire on")
        XCTAssertEqual(d.metrics.total(.runtimeCommandsResent), d.batches.last?.commandCount)
        d.runNextWake()
        XCTAssertEqual(d.ready("web").count, 2)
    }

    func test_a_connection_lost_mid_batch_keeps_the_intended_table_and_persists_it() throws {
        var d = try synced([8001])
        d.haproxy.reachable = false
        d.publish("web", [instance("i1", 8001), instance("i2", 8002)])
        let persistedBefore = d.persisted.count
        d.runNextWake()
        // The probe fails first when it is due; make sure the batch itself was the casualty.
        if d.batches.count == 1 {
            d.haproxy.reachable = true
            d.runNextWake()
            d.haproxy.reachable = false
            d.publish("web", [instance("i1", 8001), instance("i2", 8002), instance("i3", 8003)])
            d.runNextWake()
        }
        XCTAssertGreaterThan(d.persisted.count, persistedBefore)
        XCTAssertNotNil(d.step.retryAt)
        XCTAssertNil(d.step.live, "live state is re-read to repair")
    }

    func test_a_config_change_keeps_unchanged_slots_and_rereads_live_state() throws {
        var d = try synced([8001, 8002])
        let before = d.table("web")
        let next = try ConfigLoader.parse(try JSONValue.parse(config(slots: 4)), factories: ["file"])
        XCTAssertEqual(d.send(.configChanged(next)).map(\.name), ["scheduleWake"])
        XCTAssertNil(d.step.live)
        d.runNextWake()
        XCTAssertEqual(d.table("web").filter { before[$0.key] != nil }, before, "no slot moved")
    }

    func test_a_resync_reads_live_state_inside_the_batch_unless_draining_sessions_must_be_read_between() throws {
        var d = try synced([8001, 8002])
        d.advance(.seconds(10))
        var names = d.tickIfDue().map(\.name)
        XCTAssertTrue(names.contains("readLiveAndApply"), "\(names)")
        XCTAssertFalse(names.contains("readLive"), "one round trip: each backend is planned as its servers arrive")

        d.haproxy.sessions = ["web": ["slot2": 3]]
        d.publish("web", [instance("i1", 8001)])
        d.runNextWake()
        XCTAssertEqual(d.table("web")["slot2"], "file/i2@draining")
        d.advance(.seconds(10))
        names = d.tickIfDue().map(\.name)
        XCTAssertEqual(names.filter { ["readLive", "readSessions", "apply", "readLiveAndApply"].contains($0) }, ["readLive", "readSessions", "apply"],
                       "sessions of draining servers are read after live state and before planning")
    }

    func test_before_every_source_has_answered_live_state_is_read_alone_so_planning_sees_what_arrived_meanwhile() throws {
        var d = try StepDriver(config: config())
        XCTAssertEqual(d.runNextWake().map(\.name).prefix(2), ["closeConnection", "readLive"])
        XCTAssertEqual(d.readyCount, 0)
        d.publish("web", [instance("a", 8001)])
        XCTAssertEqual(d.runNextWake().map(\.name).first, "apply")
        XCTAssertEqual(d.readyCount, 1, "ready once a batch planned every source's snapshot")
        XCTAssertEqual(d.ready("web"), ["10.0.0.1:8001"])
    }

    func test_readiness_waits_for_a_snapshot_that_arrived_while_the_batch_was_planned_and_sent() throws {
        let two = config().replacingOccurrences(of: #""sources": [{ "provider": "file", "service": "web" }] }]"#, with: """
        "sources": [{ "provider": "file", "service": "web" }] },
                       { "name": "api", "slots": 2, "port": 8080, "server_options": "", "sources": [{ "provider": "file", "service": "api" }] }]
        """)
        var d = try StepDriver(config: two)
        d.publish("web", [instance("w", 8001)])
        d.duringNextBatch = { d in d.publish("api", [instance("a", 9001)]) }
        d.runNextWake()
        XCTAssertEqual(d.batches.count, 1)
        XCTAssertEqual(d.readyCount, 0, "api's snapshot came after the batch's planning: not applied yet")
        d.runNextWake()
        XCTAssertEqual(d.readyCount, 1)
        XCTAssertEqual(d.ready("api"), ["10.0.0.1:9001"], "ready means every source's first answer is in HAProxy")
    }
}
