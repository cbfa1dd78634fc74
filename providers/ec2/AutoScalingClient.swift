/// Auto Scaling's Query API (version 2011-01-01) for the two lifecycle calls, signed for service `autoscaling`.
struct AutoScalingClient: Sendable {
    let config: EC2EventsConfig
    let transport: any AWSTransport
    let timeout: Duration

    /// `CompleteLifecycleAction` with `CONTINUE`: the instance may terminate now.
    func complete(_ action: LifecycleAction, region: String, credentials: AWSCredentials) async throws(EC2Error) {
        try await call("CompleteLifecycleAction", action, extra: [("LifecycleActionResult", "CONTINUE")], region: region, credentials: credentials)
    }

    /// `RecordLifecycleActionHeartbeat`: restarts the hook's heartbeat timeout while the drain goes on.
    func heartbeat(_ action: LifecycleAction, region: String, credentials: AWSCredentials) async throws(EC2Error) {
        try await call("RecordLifecycleActionHeartbeat", action, extra: [], region: region, credentials: credentials)
    }

    func call(_ name: String, _ action: LifecycleAction, extra: [(String, String)], region: String, credentials: AWSCredentials) async throws(EC2Error) {
        let params: [(String, String)] = [
            ("Action", name), ("Version", "2011-01-01"), ("AutoScalingGroupName", action.group),
            ("LifecycleHookName", action.hook), ("LifecycleActionToken", action.token), ("InstanceId", action.instanceID),
        ] + extra
        let request = AWSRequest(
            method: "POST", url: config.autoscalingEndpointURL(region: region) + "/",
            headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
            body: Array(QueryEncoding.form(params).utf8), timeout: timeout,
            signing: AWSSigning(region: region, service: "autoscaling", credentials: credentials))
        let response = try await transport.send(request)
        guard response.status == 200 else {
            if let e = EC2XML.apiError(response.body) { throw EC2Error.api(status: response.status, code: e.code, message: e.message) }
            throw EC2Error.api(status: response.status, code: "", message: "no error document")
        }
    }
}

extension EC2Error {
    /// Auto Scaling no longer has the action (completed, abandoned, or timed out): retrying cannot help.
    var isGoneLifecycleAction: Bool {
        if case .api(_, let code, let message) = self {
            return code == "ValidationError" && message.contains("No active Lifecycle Action")
        }
        return false
    }
}
