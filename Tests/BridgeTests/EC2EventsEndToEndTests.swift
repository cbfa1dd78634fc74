import Bridge
import DiscoveryCore
import EC2Provider
import Foundation
import TestSupport
import XCTest

/// AWS events through moto's real SQS → the EC2 provider → a real HAProxy. The provider refreshes every 5 minutes,
/// so nothing but the events can explain what these tests see. Latencies are printed as figures (the targets live in
/// `make bench`); the bounds asserted here are generous for a loaded 2-core CI machine.
final class EC2EventsEndToEndTests: XCTestCase {
    func test_stopping_then_terminated_events_drain_the_instance_in_haproxy() async throws {
        let f = try await EC2EventsFixture(instances: 6, drainTimeout: "300ms")
        try await f.start()
        var latencies: [Duration] = []
        let ids = f.ports.keys.sorted()
        // Three of six: the guard allows removing half of a backend.
        for id in ids.prefix(3) {
            let t = try await f.timeUntil("\(id) drained after stopping", after: AWSEventBody.stateChange(id, "stopping")) {
                try await f.takesNoNewTraffic(id)
            }
            latencies.append(t)
            _ = try await f.timeUntil("\(id) in maint after terminated", after: AWSEventBody.stateChange(id, "terminated", time: Date().addingTimeInterval(1))) {
                try await { let s = try await f.adminState(id); return s == nil || (s ?? 0) & 0x01 != 0 }()
            }
        }
        let ready = Set(try await f.bridge.ready("web").values)
        XCTAssertEqual(ready, Set(ids.dropFirst(3).map { f.endpoint($0) }), "the other instances keep serving")
        print("figure: stopping event → drained in HAProxy (moto SQS, \(latencies.count) events): p50 \(percentile(latencies, 50)), p99 \(percentile(latencies, 99)), max \(latencies.max() ?? .zero)")
        XCTAssertLessThan(percentile(latencies, 99), .seconds(10), "an event acts long before the 5-minute refresh")
        try await eventually("queue emptied", timeout: .seconds(10)) { try await f.queue.depth() == 0 }
        await f.stop()
    }

    func test_a_running_event_for_a_new_tagged_instance_makes_it_ready_and_an_untagged_one_is_not_added() async throws {
        let f = try await EC2EventsFixture(instances: 1, spareBackends: 4)
        try await f.start()
        var latencies: [Duration] = []
        // Launched after the first refresh: the bridge cannot know them until their events arrive.
        for id in try f.launchSpare(3) {
            let t = try await f.timeUntil("\(id) ready after running", after: AWSEventBody.stateChange(id, "running")) { try await f.isReady(id) }
            latencies.append(t)
        }
        print("figure: running event → new instance ready (moto SQS + DescribeInstances for the id, \(latencies.count) events): p50 \(percentile(latencies, 50)), p99 \(percentile(latencies, 99))")
        XCTAssertLessThan(percentile(latencies, 99), .seconds(15))

        // An instance of another service: DescribeInstances with the service filter does not return it, so it is not added.
        let other = try f.launch(service: "api")
        try await f.queue.send(AWSEventBody.stateChange(other, "running"))
        try await eventually("message consumed", timeout: .seconds(10)) { try await f.queue.depth() == 0 }
        try await Task.sleep(for: .milliseconds(300))
        let v1 = try await f.isReady(other)
        XCTAssertFalse(v1, "an event never adds an instance DescribeInstances does not return with the service tag")
        let v2 = try await f.bridge.ready("web").count
        XCTAssertEqual(v2, 4)
        await f.stop()
    }

    func test_a_spot_interruption_warning_drains_although_ec2_still_says_running() async throws {
        let f = try await EC2EventsFixture(instances: 3, events: #""drain_on_rebalance": false"#)
        try await f.start()
        let ids = f.ports.keys.sorted()
        let t = try await f.timeUntil("spot instance drained", after: AWSEventBody.spotInterruption(ids[0])) {
            try await f.takesNoNewTraffic(ids[0])
        }
        print("figure: spot interruption warning → drained: \(t)")
        let described = try f.moto.seed([["op": "describe", "region": "us-east-1", "ids": [ids[0]]]]).first?["instances"] as? [[String: Any]]
        XCTAssertEqual(described?.first?["state"] as? String, "running", "moto still reports the instance running")

        // A rebalance recommendation with drain_on_rebalance off is acknowledged and changes nothing.
        try await f.queue.send(AWSEventBody.rebalance(ids[1]))
        try await eventually("rebalance consumed", timeout: .seconds(10)) { try await f.queue.depth() == 0 }
        try await Task.sleep(for: .milliseconds(300))
        let v3 = try await f.isReady(ids[1])
        XCTAssertTrue(v3)
        let v4 = try await f.isReady(ids[2])
        XCTAssertTrue(v4)
        await f.stop()
    }

    func test_a_terminate_lifecycle_action_completes_only_after_the_slow_request_on_the_instance_finished() async throws {
        // moto has no CompleteLifecycleAction: the recorder (Tests/Fakes/autoscaling_recorder.py) in front of moto
        // records the Auto Scaling calls and answers them as AWS does.
        let f = try await EC2EventsFixture(instances: 3, drainTimeout: "30s", events: #""heartbeat_interval": "1s""#)
        try await f.start()
        let port = try XCTUnwrap(f.haproxy.frontendPorts["web"])
        // Place a 4-second request on one instance's slot, then terminate exactly that instance.
        var target: String?
        var inflight: Task<(status: Int, body: String), Error>?
        for _ in 0..<6 where target == nil {
            let request = Task { try await httpGet("http://127.0.0.1:\(port)/slow/4", timeout: 15) }
            try await Task.sleep(for: .milliseconds(150))
            let sessions = try await f.bridge.poller.showSessions(backend: "web")
            let servers = try await f.bridge.servers("web")
            if let busy = sessions.first(where: { $0.value == 1 })?.key, let p = servers[busy]?.port, let id = f.ports.first(where: { $0.value == p })?.key {
                target = id
                inflight = request
            } else {
                _ = try? await request.value
            }
        }
        let id = try XCTUnwrap(target, "could not place a slow request on one instance")
        let request = try XCTUnwrap(inflight)
        let token = UUID().uuidString.lowercased()
        _ = try await f.timeUntil("terminating instance draining", after: AWSEventBody.terminating(id, token: token, group: "web-asg", hook: "drain-hook")) {
            (try await f.adminState(id) ?? 0) & 0x08 != 0
        }
        try await Task.sleep(for: .milliseconds(1500))
        XCTAssertFalse(try f.lifecycleCalls().contains { $0.action == "CompleteLifecycleAction" }, "no completion while a request is still open")
        let answer = try await request.value
        let finished = Date().timeIntervalSince1970
        XCTAssertEqual(answer.status, 200, "the in-flight request finished normally: scale-in dropped no connection")
        try await eventually("CompleteLifecycleAction sent", timeout: .seconds(10)) { try f.lifecycleCalls().contains { $0.action == "CompleteLifecycleAction" } }
        let calls = try f.lifecycleCalls()
        let complete = try XCTUnwrap(calls.first { $0.action == "CompleteLifecycleAction" })
        XCTAssertEqual(complete.params["LifecycleActionResult"], "CONTINUE")
        XCTAssertEqual(complete.params["LifecycleActionToken"], token)
        XCTAssertEqual(complete.params["AutoScalingGroupName"], "web-asg")
        XCTAssertEqual(complete.params["LifecycleHookName"], "drain-hook")
        XCTAssertEqual(complete.params["InstanceId"], id)
        XCTAssertGreaterThanOrEqual(complete.time, finished - 0.5, "completed only once the drain finished")
        XCTAssertLessThan(complete.time - finished, 5, "and promptly after it")
        XCTAssertGreaterThanOrEqual(calls.filter { $0.action == "RecordLifecycleActionHeartbeat" && $0.params["LifecycleActionToken"] == token }.count, 1,
                                    "heartbeats while the drain lasted longer than heartbeat_interval")
        XCTAssertEqual(calls.filter { $0.action == "CompleteLifecycleAction" }.count, 1)

        // The hook's own form straight to SQS (its TEST_NOTIFICATION first), for an instance with no open request.
        let second = try XCTUnwrap(f.ports.keys.sorted().first { $0 != id })
        try await f.queue.send(AWSEventBody.testNotification(group: "web-asg"))
        let token2 = UUID().uuidString.lowercased()
        try await f.queue.send(AWSEventBody.plainTerminating(second, token: token2, group: "web-asg", hook: "drain-hook"))
        try await eventually("second completion", timeout: .seconds(15)) {
            try f.lifecycleCalls().contains { $0.action == "CompleteLifecycleAction" && $0.params["LifecycleActionToken"] == token2 }
        }
        let v5 = try await f.isReady(second)
        XCTAssertFalse(v5)
        let v6 = try await f.bridge.ready("web").count
        XCTAssertEqual(v6, 1)
        // The completions are counted where the alert rules and the dashboard read them.
        let health = try XCTUnwrap(f.bridge.assembly?.providers.health)
        try await eventually("lifecycle completion metrics", timeout: .seconds(5)) {
            let m = health.providerMetrics
            return m.first { $0.name == "discovery_bridge_lifecycle_completions_total" }?.value == 2
                && m.first { $0.name == "discovery_bridge_lifecycle_completion_failures_total" }?.value == 0
        }
        await f.stop()
    }

    func test_a_lifecycle_action_completes_once_drain_timeout_passed_even_with_a_request_open_and_retries_a_throttled_call() async throws {
        // The recorder in front of moto stands in for Auto Scaling (moto lacks CompleteLifecycleAction); it throttles the first call.
        let f = try await EC2EventsFixture(instances: 3, drainTimeout: "1500ms")
        try await f.start()
        _ = try runTool("curl", ["-sS", "-X", "POST", "--max-time", "5", f.recorderURL + "/__fail?code=Throttling&count=1"], timeout: 10)
        let port = try XCTUnwrap(f.haproxy.frontendPorts["web"])
        var target: String?
        var inflight: Task<(status: Int, body: String), Error>?
        for _ in 0..<6 where target == nil {
            let request = Task { try? await httpGet("http://127.0.0.1:\(port)/slow/8", timeout: 15) }
            try await Task.sleep(for: .milliseconds(150))
            let sessions = try await f.bridge.poller.showSessions(backend: "web")
            let servers = try await f.bridge.servers("web")
            if let busy = sessions.first(where: { $0.value == 1 })?.key, let p = servers[busy]?.port, let id = f.ports.first(where: { $0.value == p })?.key {
                target = id
                inflight = Task { guard let r = await request.value else { throw TestSupportError("no answer") }; return r }
            } else {
                request.cancel()
            }
        }
        let id = try XCTUnwrap(target, "could not place a slow request on one instance")
        let sent = Date().timeIntervalSince1970
        try await f.queue.send(AWSEventBody.terminating(id, token: "tok-timeout", group: "web-asg", hook: "drain-hook"))
        // The first call is the throttled one; the retry is the one that counts.
        try await eventually("completed after drain_timeout", timeout: .seconds(20)) {
            try f.lifecycleCalls().filter { $0.action == "CompleteLifecycleAction" && $0.params["LifecycleActionToken"] == "tok-timeout" }.count >= 2
        }
        let completes = try f.lifecycleCalls().filter { $0.action == "CompleteLifecycleAction" }
        XCTAssertEqual(completes.count, 2, "the throttled call was retried once")
        let waited = (completes.last?.time ?? 0) - sent
        XCTAssertGreaterThanOrEqual(waited, 1.4, "not before drain_timeout (1.5 s)")
        XCTAssertLessThan(waited, 7, "long before the 8 s request ends: drain_timeout bounds the wait")
        print("figure: terminate event → CompleteLifecycleAction with a request still open, drain_timeout 1.5s: \(String(format: "%.2f", waited)) s")
        inflight?.cancel()
        await f.stop()
    }

    func test_garbage_duplicate_and_out_of_order_messages_leave_every_server_where_it_was() async throws {
        let f = try await EC2EventsFixture(instances: 4, drainTimeout: "300ms")
        try await f.start()
        let ids = f.ports.keys.sorted()
        let (a, b, d) = (ids[0], ids[1], ids[3])
        let before = try await f.bridge.ready("web")
        for body in [
            "not json at all", "{}", #"{"detail-type": "EC2 Instance State-change Notification"}"#,
            #"{"version":"0","id":"x1","detail-type":"AWS API Call via CloudTrail","source":"aws.ec2","account":"123456789012","time":"2026-01-01T00:00:00Z","region":"us-east-1","detail":{}}"#,
            AWSEventBody.stateChange(a, "stopping", region: "eu-west-1"),
            AWSEventBody.stateChange(a, "stopping").replacingOccurrences(of: "123456789012", with: "999999999999"),
            AWSEventBody.stateChange("i-0123456789abcdef0", "terminated"),
            AWSEventBody.stateChange(a, "exploded"),
        ] {
            try await f.queue.send(body)
        }
        try await eventually("bad messages deleted", timeout: .seconds(10)) { try await f.queue.depth() == 0 }
        try await Task.sleep(for: .milliseconds(300))
        let v7 = try await f.bridge.ready("web")
        XCTAssertEqual(v7, before, "bad input changes nothing")

        // Duplicate: a redelivered stopping event after the instance was started again does not drain it again.
        let stopping = AWSEventBody.stateChange(a, "stopping", time: Date(), id: "dup-\(a)")
        _ = try await f.timeUntil("a drained", after: stopping) { !(try await f.isReady(a)) }
        _ = try await f.timeUntil("a back", after: AWSEventBody.stateChange(a, "running", time: Date().addingTimeInterval(5))) { try await f.isReady(a) }
        try await f.queue.send(stopping)
        // Out of order: an old stopping for b after a newer running, an old running for d after its terminated.
        try await f.queue.send(AWSEventBody.stateChange(b, "running", time: Date()))
        try await f.queue.send(AWSEventBody.stateChange(b, "stopping", time: Date().addingTimeInterval(-60)))
        _ = try await f.timeUntil("d drained", after: AWSEventBody.stateChange(d, "terminated", time: Date())) { !(try await f.isReady(d)) }
        try await f.queue.send(AWSEventBody.stateChange(d, "running", time: Date().addingTimeInterval(-30)))
        try await eventually("all consumed", timeout: .seconds(10)) { try await f.queue.depth() == 0 }
        try await Task.sleep(for: .milliseconds(500))
        let v8 = try await f.isReady(a)
        XCTAssertTrue(v8, "the duplicate did not drain a again")
        let v9 = try await f.isReady(b)
        XCTAssertTrue(v9, "the older stopping did not drain b")
        let v10 = try await f.isReady(d)
        XCTAssertFalse(v10, "the older running did not bring the terminated d back")
        let v11 = try await f.isReady(ids[2])
        XCTAssertTrue(v11)
        await f.stop()
    }

    func test_a_failing_queue_backs_off_keeps_every_server_and_recovers() async throws {
        var proxy: ReportingProcess?
        var proxyURL = ""
        let f = try await EC2EventsFixture(instances: 3, queueURL: { url in
            // The queue is reached through the fault proxy; EC2 goes to moto directly.
            guard let moto = URL(string: url), let port = moto.port,
                  let p = try? ReportingProcess(name: "sqs-proxy", executable: "python3", arguments: [fakesDirectory + "/fault_proxy.py", "\(port)"]),
                  let proxyPort = try? p.readPort() else { return url }
            proxy = p
            proxyURL = "http://127.0.0.1:\(proxyPort)"
            return url.replacingOccurrences(of: "127.0.0.1:\(port)", with: "127.0.0.1:\(proxyPort)")
        })
        defer { proxy?.stop() }
        XCTAssertFalse(proxyURL.isEmpty)
        func faulted() throws -> Int {
            let stats = try runTool("curl", ["-sS", "--max-time", "5", proxyURL + "/__stats"], timeout: 10)
            return (try JSONSerialization.jsonObject(with: Data(stats.utf8)) as? [String: Any])?["faulted"] as? Int ?? 0
        }
        func arm(_ kind: String, _ count: Int) throws {
            _ = try runTool("curl", ["-sS", "-X", "POST", "--max-time", "5", proxyURL + "/__fault?kind=\(kind)&count=\(count)"], timeout: 10)
        }
        // Armed before the bridge starts, so its first receives hit them: throttling, a 500, then a body that is no JSON.
        try arm("throttle", 3)
        try await f.start()
        let before = try await f.bridge.ready("web")
        try await eventually("throttled answers served", timeout: .seconds(30), every: .milliseconds(50)) { try faulted() >= 3 }
        try arm("500", 1)
        try await eventually("500 served", timeout: .seconds(30), every: .milliseconds(50)) { try faulted() >= 4 }
        try arm("garbage", 1)
        try await eventually("garbage served", timeout: .seconds(30), every: .milliseconds(50)) { try faulted() >= 5 }
        let v12 = try await f.bridge.ready("web")
        XCTAssertEqual(v12, before, "a failing queue leaves every server where it was")
        let ids = f.ports.keys.sorted()
        _ = try await f.timeUntil("event after recovery", after: AWSEventBody.stateChange(ids[0], "stopping"), timeout: .seconds(90)) {
            !(try await f.isReady(ids[0]))
        }
        let stats = try runTool("curl", ["-sS", "--max-time", "5", proxyURL + "/__stats"], timeout: 10)
        let requests = (try JSONSerialization.jsonObject(with: Data(stats.utf8)) as? [String: Any])?["requests"] as? Int ?? 0
        print("figure: SQS requests through the proxy for 5 failed answers (backoff) and the recovery: \(requests)")
        XCTAssertLessThan(requests, 10, "failures back off instead of hammering the queue")
        await f.stop()
    }
}
