import DiscoveryCore
@testable import EC2Provider
import Foundation
import TestSupport
import XCTest

/// SQS message bodies: EventBridge's envelope, Auto Scaling's plain form, SNS around either, and garbage.
final class EventParsingTests: XCTestCase {
    func parse(_ s: String) -> EventMessage { EC2EventParser.parse(Array(s.utf8)) }

    func test_eventbridge_state_change_spot_rebalance_and_lifecycle_events_are_understood() throws {
        guard case .event(let e) = parse(AWSEventBody.stateChange("i-0abc12345678def01", "stopping", id: "e-1")) else { return XCTFail() }
        XCTAssertEqual(e.kind, .stateChange("stopping"))
        XCTAssertEqual(e.id, "e-1")
        XCTAssertEqual(e.region, "us-east-1")
        XCTAssertEqual(e.account, "123456789012")
        guard case .event(let s) = parse(AWSEventBody.spotInterruption("i-0abc12345678def01")) else { return XCTFail() }
        XCTAssertEqual(s.kind, .spotInterruption("terminate"))
        guard case .event(let r) = parse(AWSEventBody.rebalance("i-0abc12345678def01")) else { return XCTFail() }
        XCTAssertEqual(r.kind, .rebalance)
        guard case .event(let l) = parse(AWSEventBody.terminating("i-0abc12345678def01", token: "tok", group: "g", hook: "h")) else { return XCTFail() }
        XCTAssertEqual(l.kind, .terminating(LifecycleAction(token: "tok", group: "g", hook: "h", instanceID: "i-0abc12345678def01")))
    }

    func test_the_plain_lifecycle_hook_form_is_understood_and_its_test_notification_ignored() {
        guard case .event(let e) = parse(AWSEventBody.plainTerminating("i-0abc12345678def01", token: "tok", group: "g", hook: "h")) else { return XCTFail() }
        XCTAssertEqual(e.id, "lifecycle:tok")
        XCTAssertNil(e.region, "the plain form carries no region: the queue's applies")
        XCTAssertEqual(parse(AWSEventBody.testNotification(group: "g")), .ignored("autoscaling:TEST_NOTIFICATION"))
        let launching = #"{"LifecycleTransition":"autoscaling:EC2_INSTANCE_LAUNCHING","LifecycleActionToken":"t","AutoScalingGroupName":"g","LifecycleHookName":"h","EC2InstanceId":"i-0abc1234"}"#
        guard case .ignored = parse(launching) else { return XCTFail("a launch hook is not ours to complete") }
    }

    func test_an_event_inside_an_sns_notification_is_unwrapped() {
        let inner = AWSEventBody.stateChange("i-0abc12345678def01", "terminated")
        let sns = JSONValue.object(["Type": .string("Notification"), "MessageId": .string("m"), "Message": .string(inner)]).serialized()
        guard case .event(let e) = parse(sns) else { return XCTFail() }
        XCTAssertEqual(e.kind, .stateChange("terminated"))
    }

    func test_bad_bodies_are_invalid_with_a_reason_and_never_crash() {
        for body in ["", "nope", "[1,2]", "{}", "\"str\"", #"{"detail-type":"EC2 Instance State-change Notification"}"#,
                     #"{"id":"x","detail-type":"EC2 Instance State-change Notification","time":"yesterday","detail":{}}"#,
                     #"{"id":"x","detail-type":"Mystery","time":"2026-01-01T00:00:00Z","detail":{}}"#,
                     #"{"id":"x","detail-type":"EC2 Instance State-change Notification","time":"2026-01-01T00:00:00Z","detail":{"instance-id":"web-1","state":"running"}}"#,
                     #"{"id":"x","detail-type":"EC2 Instance-terminate Lifecycle Action","time":"2026-01-01T00:00:00Z","detail":{"EC2InstanceId":"i-0abc1234"}}"#,
                     #"{"Type":"Notification","Message":"not json"}"#, String(repeating: "[", count: 5000)] {
            guard case .invalid(let why) = parse(body) else { return XCTFail("accepted \(body.prefix(80))") }
            XCTAssertFalse(why.isEmpty)
        }
    }

    func test_five_thousand_mutated_bodies_never_crash_and_every_accepted_event_names_a_valid_instance() {
        var rng = SplitMix64(seed: 12)
        let seeds = [AWSEventBody.stateChange("i-0abc12345678def01", "stopping"), AWSEventBody.spotInterruption("i-0abc12345678def01"),
                     AWSEventBody.terminating("i-0abc12345678def01", token: "t", group: "g", hook: "h"),
                     AWSEventBody.plainTerminating("i-0abc12345678def01", token: "t", group: "g", hook: "h")].map { Array($0.utf8) }
        var accepted = 0
        for n in 0..<5000 {
            var body = seeds[n % seeds.count]
            for _ in 0..<rng.int(1...6) {
                let i = rng.int(0...(body.count - 1))
                switch rng.int(0...2) {
                case 0: body[i] = UInt8(truncatingIfNeeded: rng.next())
                case 1: body.remove(at: i)
                default: body.insert(body[rng.int(0...(body.count - 1))], at: i)
                }
            }
            if case .event(let e) = EC2EventParser.parse(body) {
                accepted += 1
                XCTAssertTrue(EC2EventParser.isInstanceID(e.instanceID), e.instanceID)
            }
        }
        print("figure: event parser fuzz: 5000 mutated bodies, \(accepted) still valid events, 0 crashes")
    }

    func test_events_config_defaults_and_errors_name_the_path() throws {
        let ok = try EC2EventsConfig.parse(.object(["queue_url": .string("https://sqs.eu-west-1.amazonaws.com/123456789012/q")]), path: "providers.ec2.events")
        XCTAssertTrue(ok.completeLifecycleActions)
        XCTAssertFalse(ok.drainOnRebalance)
        XCTAssertEqual(ok.heartbeatInterval, .seconds(60))
        XCTAssertEqual(ok.expectedAccount, "123456789012")
        XCTAssertEqual(SQSQueueURL(ok.queueURL)?.region, "eu-west-1")
        XCTAssertEqual(SQSQueueURL("https://eu-west-1.queue.amazonaws.com/123456789012/q")?.region, "eu-west-1")
        XCTAssertEqual(ok.autoscalingEndpointURL(region: "eu-west-1"), "https://autoscaling.eu-west-1.amazonaws.com")
        for (value, path) in [
            (JSONValue.object([:]), "providers.ec2.events.queue_url"),
            (.object(["queue_url": .string("sqs://x")]), "providers.ec2.events.queue_url"),
            (.object(["queue_url": .string("https://sqs.eu-west-1.amazonaws.com/")]), "providers.ec2.events.queue_url"),
            (.object(["queue_url": .string("https://sqs.eu-west-1.amazonaws.com/1/q"), "heartbeat_interval": .string("0s")]), "providers.ec2.events.heartbeat_interval"),
            (.object(["queue_url": .string("https://sqs.eu-west-1.amazonaws.com/1/q"), "drain_on_rebalance": .string("yes")]), "providers.ec2.events.drain_on_rebalance"),
            (.object(["queue_url": .string("https://sqs.eu-west-1.amazonaws.com/1/q"), "wait": .string("20s")]), "providers.ec2.events.wait"),
        ] {
            XCTAssertThrowsError(try EC2EventsConfig.parse(value, path: "providers.ec2.events")) { e in
                XCTAssertEqual((e as? ConfigError)?.path, path, "\(e)")
            }
        }
    }
}

/// The provider with an event queue stops promptly, also when EC2 never answered (the event pump waits for it).
final class EventProviderStopTests: XCTestCase {
    func test_a_provider_with_events_stops_at_once_when_ec2_never_answered() async throws {
        let dead = "http://127.0.0.1:\(try FreePort.allocate())"
        let config: JSONValue = .object([
            "regions": .array([.string("us-east-1")]), "endpoint": .string(dead), "refresh_interval": .string("5m"), "timeout": .string("1s"),
            "credentials": .object(["access_key_id": .string("AKIASTOP"), "secret_access_key": .string("s")]),
            "events": .object(["queue_url": .string(dead + "/123456789012/q")]),
        ])
        let ctx = ProviderContext(environment: [:], logger: .init(label: "t"), configDirectory: "/tmp")
        let provider = try EC2ProviderFactory().makeProvider(config: config, path: "providers.ec2", sources: [SourceSpec(provider: "ec2", service: "web")], context: ctx)
        let sink = RecordingSink()
        let task = Task { try await provider.run(sink: sink) }
        try await Task.sleep(for: .milliseconds(500))
        let cancelled = ContinuousClock.now
        task.cancel()
        _ = try? await task.value
        XCTAssertLessThan(ContinuousClock.now - cancelled, .seconds(3))
    }
}
