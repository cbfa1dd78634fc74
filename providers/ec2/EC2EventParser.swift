import DiscoveryCore
import FoundationEssentials

/// Reads SQS message bodies: EventBridge's envelope, Auto Scaling's plain lifecycle-hook form, either inside SNS.
public enum EC2EventParser {
    static let states: Set<String> = ["pending", "running", "stopping", "stopped", "shutting-down", "terminated"]

    /// Classifies one message body; never throws: anything unexpected is `.invalid` with the reason.
    public static func parse(_ body: [UInt8]) -> EventMessage {
        guard body.count <= 262_144 else { return .invalid("body larger than SQS's 256 KiB limit") }
        guard case .object(var o) = (try? JSONValue.parse(bytes: body, maxDepth: 32)) ?? .null else {
            return .invalid("body is not a JSON object")
        }
        // SNS without raw message delivery wraps the event as a JSON string in "Message".
        if o["Type"]?.stringValue == "Notification", let inner = o["Message"]?.stringValue {
            guard case .object(let io) = (try? JSONValue.parse(bytes: Array(inner.utf8), maxDepth: 32)) ?? .null else {
                return .invalid("SNS Message is not a JSON object")
            }
            o = io
        }
        if let detailType = o["detail-type"]?.stringValue { return envelope(o, detailType: detailType) }
        if o["Event"]?.stringValue == "autoscaling:TEST_NOTIFICATION" { return .ignored("autoscaling:TEST_NOTIFICATION") }
        if o["LifecycleTransition"] != nil { return plainLifecycle(o) }
        return .invalid("neither an EventBridge event (no detail-type) nor an Auto Scaling lifecycle notification")
    }

    static func envelope(_ o: [String: JSONValue], detailType: String) -> EventMessage {
        guard let id = o["id"]?.stringValue, !id.isEmpty else { return .invalid("event without id") }
        guard let timeText = o["time"]?.stringValue, let time = ISO8601.parse(timeText) else {
            return .invalid("event \(id.prefix(64)) has no valid time")
        }
        guard let detail = o["detail"]?.objectValue else { return .invalid("event \(id.prefix(64)) has no detail object") }
        let region = o["region"]?.stringValue
        let account = o["account"]?.stringValue
        func make(_ instance: String?, _ kind: EC2Event.Kind) -> EventMessage {
            guard let instance, isInstanceID(instance) else {
                return .invalid("\(detailType) without a valid instance id")
            }
            return .event(EC2Event(id: id, instanceID: instance, time: time, region: region, account: account, kind: kind))
        }
        switch detailType {
        case "EC2 Instance State-change Notification":
            guard let state = detail["state"]?.stringValue, states.contains(state) else {
                return .invalid("state-change event with unknown state \"\(String(describing: detail["state"]?.stringValue ?? "").prefix(32))\"")
            }
            return make(detail["instance-id"]?.stringValue, .stateChange(state))
        case "EC2 Spot Instance Interruption Warning":
            return make(detail["instance-id"]?.stringValue, .spotInterruption(detail["instance-action"]?.stringValue ?? "terminate"))
        case "EC2 Instance Rebalance Recommendation":
            return make(detail["instance-id"]?.stringValue, .rebalance)
        case "EC2 Instance-terminate Lifecycle Action":
            guard let action = lifecycleAction(detail) else { return .invalid("terminate lifecycle action without token, group, hook or instance id") }
            guard detail["LifecycleTransition"]?.stringValue ?? "autoscaling:EC2_INSTANCE_TERMINATING" == "autoscaling:EC2_INSTANCE_TERMINATING" else {
                return .invalid("terminate lifecycle action with transition \(detail["LifecycleTransition"]?.stringValue ?? "")")
            }
            return make(action.instanceID, .terminating(action))
        case "EC2 Instance-launch Lifecycle Action":
            return .ignored("launch lifecycle action (the bridge adds instances once they run)")
        default:
            return .invalid("unknown detail-type \"\(detailType.prefix(64))\"")
        }
    }

    static func plainLifecycle(_ o: [String: JSONValue]) -> EventMessage {
        let transition = o["LifecycleTransition"]?.stringValue ?? ""
        if transition == "autoscaling:EC2_INSTANCE_LAUNCHING" { return .ignored("launch lifecycle action (the bridge adds instances once they run)") }
        guard transition == "autoscaling:EC2_INSTANCE_TERMINATING" else { return .invalid("unknown LifecycleTransition \"\(transition.prefix(64))\"") }
        guard let action = lifecycleAction(o), isInstanceID(action.instanceID) else {
            return .invalid("lifecycle notification without token, group, hook or a valid instance id")
        }
        // No time means "now": the plain form always carries one, but ordering must not reject a message for it.
        let time = o["Time"]?.stringValue.flatMap(ISO8601.parse) ?? Date().timeIntervalSince1970
        return .event(EC2Event(id: "lifecycle:\(action.token)", instanceID: action.instanceID, time: time, region: nil,
                               account: o["AccountId"]?.stringValue, kind: .terminating(action)))
    }

    static func lifecycleAction(_ o: [String: JSONValue]) -> LifecycleAction? {
        guard let token = o["LifecycleActionToken"]?.stringValue, !token.isEmpty, token.utf8.count <= 256,
              let group = o["AutoScalingGroupName"]?.stringValue, !group.isEmpty, group.utf8.count <= 255,
              let hook = o["LifecycleHookName"]?.stringValue, !hook.isEmpty, hook.utf8.count <= 255,
              let instance = o["EC2InstanceId"]?.stringValue, isInstanceID(instance) else { return nil }
        return LifecycleAction(token: token, group: group, hook: hook, instanceID: instance)
    }

    /// `i-` followed by 8 or 17 hexadecimal digits (moto's ids have the same shape).
    static func isInstanceID(_ s: String) -> Bool {
        guard s.hasPrefix("i-") else { return false }
        let hex = s.dropFirst(2)
        return (8...17).contains(hex.count) && hex.allSatisfy { $0.isHexDigit }
    }
}
