import DiscoveryCore

/// One message received from SQS.
struct SQSMessage: Sendable {
    var messageID: String
    var receiptHandle: String
    var body: [UInt8]
    /// How many times SQS has delivered it (this time included).
    var receiveCount: Int
}

/// SQS over its JSON protocol (`application/x-amz-json-1.0`, `X-Amz-Target: AmazonSQS.<Action>`), which AWS has
/// accepted since 2023 and moto 5 serves; requests go to the queue URL's origin, signed for service `sqs`.
struct SQSClient: Sendable {
    let queue: SQSQueueURL
    let queueURL: String
    let transport: any AWSTransport
    /// Per request, on top of the long-poll wait.
    let timeout: Duration

    /// Long-polls for up to 10 messages (`WaitTimeSeconds` 20); the HTTP timeout is the wait plus `timeout`.
    func receive(region: String, credentials: AWSCredentials) async throws(EC2Error) -> [SQSMessage] {
        let body: JSONValue = .object([
            "QueueUrl": .string(queueURL),
            "MaxNumberOfMessages": .int(10),
            "WaitTimeSeconds": .int(Int64(EC2EventsConfig.waitTimeSeconds)),
            "MessageSystemAttributeNames": .array([.string("ApproximateReceiveCount")]),
            "AttributeNames": .array([.string("ApproximateReceiveCount")]),
        ])
        let answer = try await call("ReceiveMessage", body, region: region, credentials: credentials,
                                    timeout: .seconds(EC2EventsConfig.waitTimeSeconds) + timeout)
        guard let list = answer["Messages"] else { return [] }
        guard let items = list.arrayValue else { throw EC2Error.malformed("ReceiveMessage: Messages is not an array") }
        var out: [SQSMessage] = []
        for item in items {
            guard let handle = item["ReceiptHandle"]?.stringValue, !handle.isEmpty else {
                throw EC2Error.malformed("ReceiveMessage: a message without ReceiptHandle")
            }
            let count = item["Attributes"]?["ApproximateReceiveCount"]?.stringValue.flatMap { Int($0) } ?? 1
            out.append(SQSMessage(messageID: item["MessageId"]?.stringValue ?? "", receiptHandle: handle,
                                  body: Array((item["Body"]?.stringValue ?? "").utf8), receiveCount: count))
        }
        return out
    }

    /// Deletes up to 10 messages in one `DeleteMessageBatch`; returns the receipt handles SQS did not delete.
    func delete(_ handles: [String], region: String, credentials: AWSCredentials) async throws(EC2Error) -> [String] {
        guard !handles.isEmpty else { return [] }
        let entries = handles.enumerated().map { i, h -> JSONValue in .object(["Id": .string("m\(i)"), "ReceiptHandle": .string(h)]) }
        let answer = try await call("DeleteMessageBatch", .object(["QueueUrl": .string(queueURL), "Entries": .array(entries)]),
                                    region: region, credentials: credentials, timeout: timeout)
        var failed: [String] = []
        for f in answer["Failed"]?.arrayValue ?? [] {
            if let id = f["Id"]?.stringValue, let i = Int(id.dropFirst()), handles.indices.contains(i) { failed.append(handles[i]) }
        }
        return failed
    }

    func call(_ action: String, _ body: JSONValue, region: String, credentials: AWSCredentials, timeout: Duration) async throws(EC2Error) -> JSONValue {
        let request = AWSRequest(
            method: "POST", url: queue.origin + "/",
            headers: [("Content-Type", "application/x-amz-json-1.0"), ("X-Amz-Target", "AmazonSQS.\(action)")],
            body: Array(body.serialized().utf8), timeout: timeout,
            signing: AWSSigning(region: region, service: "sqs", credentials: credentials))
        let response = try await transport.send(request)
        let parsed = try? JSONValue.parse(bytes: response.body, maxDepth: 32)
        guard response.status == 200 else {
            // "__type" is "com.amazonaws.sqs#QueueDoesNotExist"; older endpoints send "AWS.SimpleQueueService.…".
            if parsed == nil, let e = EC2XML.apiError(response.body) {
                throw EC2Error.api(status: response.status, code: e.code, message: String(e.message.prefix(300)))
            }
            let type = parsed?["__type"]?.stringValue ?? response.headers["x-amzn-query-error"]?.split(separator: ";").first.map(String.init) ?? ""
            let code = type.split(separator: "#").last.map(String.init) ?? type
            let message = parsed?["message"]?.stringValue ?? parsed?["Message"]?.stringValue ?? ""
            throw EC2Error.api(status: response.status, code: code, message: String(message.prefix(300)))
        }
        guard let parsed, parsed.objectValue != nil else { throw EC2Error.malformed("\(action): answer is not a JSON object") }
        return parsed
    }
}
