import CurlHTTP
import DiscoveryCore
import Foundation

/// An SQS queue in a moto_server, driven over SQS's JSON protocol the way AWS's SDKs do (tests send events with it).
public final class SQSQueue: Sendable {
    public let url: String
    let endpoint: String
    let client: HTTPClient

    /// Creates queue `name` in `moto` (region us-east-1, account 123456789012, moto's default).
    public init(moto: Moto, name: String, attributes: [String: String] = [:]) async throws {
        endpoint = moto.endpoint
        client = HTTPClient()
        var body: [String: JSONValue] = ["QueueName": .string(name)]
        if !attributes.isEmpty { body["Attributes"] = .object(attributes.mapValues { .string($0) }) }
        let answer = try await Self.call(client, endpoint, "CreateQueue", .object(body))
        guard let url = answer["QueueUrl"]?.stringValue else { throw TestSupportError("CreateQueue: no QueueUrl") }
        self.url = url
    }

    /// Sends one message; returns when SQS has accepted it.
    public func send(_ body: String) async throws {
        _ = try await Self.call(client, endpoint, "SendMessage", .object(["QueueUrl": .string(url), "MessageBody": .string(body)]))
    }

    /// Messages in the queue, visible plus in flight.
    public func depth() async throws -> Int {
        let a = try await Self.call(client, endpoint, "GetQueueAttributes", .object([
            "QueueUrl": .string(url), "AttributeNames": .array([.string("ApproximateNumberOfMessages"), .string("ApproximateNumberOfMessagesNotVisible")]),
        ]))
        let visible = Int(a["Attributes"]?["ApproximateNumberOfMessages"]?.stringValue ?? "") ?? -1
        let hidden = Int(a["Attributes"]?["ApproximateNumberOfMessagesNotVisible"]?.stringValue ?? "") ?? -1
        return visible + hidden
    }

    public func close() { client.shutdown() }

    static func call(_ client: HTTPClient, _ endpoint: String, _ action: String, _ body: JSONValue) async throws -> JSONValue {
        var r = HTTPRequest(method: "POST", url: endpoint + "/", headers: [
            HTTPHeader("Content-Type", "application/x-amz-json-1.0"), HTTPHeader("X-Amz-Target", "AmazonSQS.\(action)"),
        ], body: Array(body.serialized().utf8), timeout: .seconds(10))
        r.awsSigV4 = AWSSigV4(region: "us-east-1", service: "sqs", accessKeyID: "AKIDTEST", secretAccessKey: "test-secret")
        let response = try await client.execute(r)
        guard response.status == 200 else { throw TestSupportError("SQS \(action): HTTP \(response.status) \(response.bodyText.prefix(300))") }
        return try JSONValue.parse(bytes: response.body)
    }
}

/// Bodies of the AWS events the EC2 provider understands, as EventBridge and Auto Scaling deliver them to SQS.
public enum AWSEventBody {
    public static let account = "123456789012"

    public static func timestamp(_ t: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: t)
    }

    static func envelope(_ detailType: String, source: String, instance: String, time: Date, region: String, detail: [String: JSONValue], id: String?) -> String {
        JSONValue.object([
            "version": .string("0"), "id": .string(id ?? UUID().uuidString.lowercased()), "detail-type": .string(detailType),
            "source": .string(source), "account": .string(account), "time": .string(timestamp(time)), "region": .string(region),
            "resources": .array([.string("arn:aws:ec2:\(region):\(account):instance/\(instance)")]), "detail": .object(detail),
        ]).serialized()
    }

    public static func stateChange(_ instance: String, _ state: String, time: Date = Date(), region: String = "us-east-1", id: String? = nil) -> String {
        envelope("EC2 Instance State-change Notification", source: "aws.ec2", instance: instance, time: time, region: region,
                 detail: ["instance-id": .string(instance), "state": .string(state)], id: id)
    }

    public static func spotInterruption(_ instance: String, time: Date = Date(), region: String = "us-east-1") -> String {
        envelope("EC2 Spot Instance Interruption Warning", source: "aws.ec2", instance: instance, time: time, region: region,
                 detail: ["instance-id": .string(instance), "instance-action": .string("terminate")], id: nil)
    }

    public static func rebalance(_ instance: String, time: Date = Date(), region: String = "us-east-1") -> String {
        envelope("EC2 Instance Rebalance Recommendation", source: "aws.ec2", instance: instance, time: time, region: region,
                 detail: ["instance-id": .string(instance)], id: nil)
    }

    public static func terminating(_ instance: String, token: String, group: String, hook: String, time: Date = Date(), region: String = "us-east-1") -> String {
        envelope("EC2 Instance-terminate Lifecycle Action", source: "aws.autoscaling", instance: instance, time: time, region: region, detail: [
            "LifecycleActionToken": .string(token), "AutoScalingGroupName": .string(group), "LifecycleHookName": .string(hook),
            "EC2InstanceId": .string(instance), "LifecycleTransition": .string("autoscaling:EC2_INSTANCE_TERMINATING"),
            "NotificationMetadata": .string(""),
        ], id: nil)
    }

    /// The form a lifecycle hook sends straight to SQS (no EventBridge envelope).
    public static func plainTerminating(_ instance: String, token: String, group: String, hook: String, time: Date = Date()) -> String {
        JSONValue.object([
            "Origin": .string("AutoScalingGroup"), "Destination": .string("EC2"), "Service": .string("AWS Auto Scaling"),
            "Time": .string(timestamp(time)), "AccountId": .string(account), "RequestId": .string(UUID().uuidString),
            "LifecycleActionToken": .string(token), "AutoScalingGroupName": .string(group), "LifecycleHookName": .string(hook),
            "EC2InstanceId": .string(instance), "LifecycleTransition": .string("autoscaling:EC2_INSTANCE_TERMINATING"),
        ]).serialized()
    }

    public static func testNotification(group: String) -> String {
        JSONValue.object([
            "AccountId": .string(account), "RequestId": .string(UUID().uuidString), "AutoScalingGroupARN": .string("arn:aws:autoscaling:us-east-1:\(account):autoScalingGroup:x:autoScalingGroupName/\(group)"),
            "AutoScalingGroupName": .string(group), "Service": .string("AWS Auto Scaling"), "Event": .string("autoscaling:TEST_NOTIFICATION"),
            "Time": .string(timestamp(Date())),
        ]).serialized()
    }
}
