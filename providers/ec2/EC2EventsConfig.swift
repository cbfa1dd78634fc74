import DiscoveryCore

/// The validated `providers.ec2.events` block: the SQS queue of AWS events and what to do with them.
public struct EC2EventsConfig: Sendable, Equatable {
    /// The SQS queue URL (`https://sqs.<region>.amazonaws.com/<account>/<name>`).
    public var queueURL: String
    /// Auto Scaling endpoint override; `{region}` is replaced. Default `https://autoscaling.{region}.amazonaws.com`.
    public var autoscalingEndpoint: String?
    /// Whether a drained terminating instance's lifecycle action is completed with `CONTINUE`.
    public var completeLifecycleActions = true
    /// How often `RecordLifecycleActionHeartbeat` is sent while a terminating instance is still draining.
    public var heartbeatInterval: Duration = .seconds(60)
    /// Whether an `EC2 Instance Rebalance Recommendation` drains the instance.
    public var drainOnRebalance = false
    /// A message that could not be processed is deleted once SQS has delivered it this many times.
    public var maxReceives = 5
    /// The account whose events are accepted; default: the account in the queue URL.
    public var account: String?
    /// Longest time heartbeats keep a terminating instance waiting for its drain (then the hook's timeout decides).
    public var maxLifecycleWait: Duration = .seconds(7200)

    /// SQS's longest long poll: one request per 20 s per queue when the queue is idle.
    public static let waitTimeSeconds = 20

    public init(queueURL: String) {
        self.queueURL = queueURL
    }

    /// Validates `providers.ec2.events` at `path`.
    public static func parse(_ value: JSONValue, path: String) throws(ConfigError) -> EC2EventsConfig {
        var r = try ObjectReader(value, at: path)
        let url = try r.requireString("queue_url")
        try EC2Config.checkURL(url, path: r.pathOf("queue_url"))
        guard SQSQueueURL(url) != nil else {
            throw ConfigError(path: r.pathOf("queue_url"), "expected a queue URL such as \"https://sqs.eu-west-1.amazonaws.com/123456789012/bridge-events\"")
        }
        var c = EC2EventsConfig(queueURL: url)
        if let e = try r.nonEmptyString("autoscaling_endpoint") {
            try EC2Config.checkURL(e, path: r.pathOf("autoscaling_endpoint"))
            c.autoscalingEndpoint = e
        }
        if let b = try r.bool("complete_lifecycle_actions") { c.completeLifecycleActions = b }
        if let d = try r.duration("heartbeat_interval") {
            guard d >= .seconds(1), d <= .seconds(3600) else {
                throw ConfigError(path: r.pathOf("heartbeat_interval"), "must be between 1s and 1h (and shorter than the lifecycle hook's heartbeat timeout)")
            }
            c.heartbeatInterval = d
        }
        if let b = try r.bool("drain_on_rebalance") { c.drainOnRebalance = b }
        if let n = try r.int("max_receives", in: 1...1000, describe: "an integer 1-1000") { c.maxReceives = n }
        if let a = try r.nonEmptyString("account") {
            guard a.count == 12, a.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                throw ConfigError(path: r.pathOf("account"), "expected a 12-digit AWS account id")
            }
            c.account = a
        }
        if let d = try r.duration("max_lifecycle_wait") {
            guard d >= .seconds(1), d <= .seconds(172_800) else { throw ConfigError(path: r.pathOf("max_lifecycle_wait"), "must be between 1s and 48h") }
            c.maxLifecycleWait = d
        }
        try r.finish()
        return c
    }

    /// The Auto Scaling endpoint of `region`, without a trailing slash.
    func autoscalingEndpointURL(region: String) -> String {
        let e = (autoscalingEndpoint ?? "https://autoscaling.{region}.amazonaws.com").replacingAll("{region}", with: region)
        return e.hasSuffix("/") ? String(e.dropLast()) : e
    }

    /// The accepted account: the configured one, else the queue URL's.
    var expectedAccount: String? { account ?? SQSQueueURL(queueURL)?.account }
}
