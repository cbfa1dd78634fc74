/// One AWS event about an EC2 instance, as read from an SQS message body.
public struct EC2Event: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// `EC2 Instance State-change Notification` with its `state`.
        case stateChange(String)
        /// `EC2 Spot Instance Interruption Warning` with its `instance-action` (terminate, stop, hibernate).
        case spotInterruption(String)
        /// `EC2 Instance Rebalance Recommendation`.
        case rebalance
        /// `autoscaling:EC2_INSTANCE_TERMINATING`, from EventBridge or straight from the lifecycle hook.
        case terminating(LifecycleAction)
    }

    /// What makes a redelivered or republished event a duplicate: the envelope's `id`, or the lifecycle token.
    public var id: String
    public var instanceID: String
    /// The event's own time (seconds since 1970): events of one instance are applied in this order.
    public var time: Double
    /// Nil for messages that carry no region (a lifecycle hook's plain form): the queue's region applies.
    public var region: String?
    public var account: String?
    public var kind: Kind

    /// A short name for logs.
    public var summary: String {
        switch kind {
        case .stateChange(let s): return "state-change \(s)"
        case .spotInterruption(let a): return "spot interruption (\(a))"
        case .rebalance: return "rebalance recommendation"
        case .terminating: return "terminate lifecycle action"
        }
    }
}

/// A pending `Terminating:Wait`: what `CompleteLifecycleAction` and `RecordLifecycleActionHeartbeat` need.
public struct LifecycleAction: Sendable, Hashable {
    public var token: String
    public var group: String
    public var hook: String
    public var instanceID: String
}

/// What an SQS message turned out to be.
public enum EventMessage: Sendable, Equatable {
    case event(EC2Event)
    /// Understood and deliberately not acted on (`autoscaling:TEST_NOTIFICATION`, a launch lifecycle action).
    case ignored(String)
    /// Not an event the provider understands; logged once and deleted.
    case invalid(String)
}
