/// The parts of an SQS queue URL the provider needs: where to send requests, the signing region, the account.
struct SQSQueueURL: Sendable, Equatable {
    /// `scheme://host[:port]`: the SQS JSON protocol posts to the endpoint's root with the queue URL in the body.
    var origin: String
    /// From `sqs.<region>.amazonaws.com`, `<region>.queue.amazonaws.com` or a VPC endpoint name; nil otherwise.
    var region: String?
    /// The 12-digit account of the path `/<account>/<name>`, when the path has that form.
    var account: String?
    var name: String

    init?(_ url: String) {
        guard let schemeEnd = url.firstRange(of: "://") else { return nil }
        let rest = url[schemeEnd.upperBound...]
        guard let slash = rest.firstIndex(of: "/") else { return nil }
        let hostPort = rest[..<slash]
        guard !hostPort.isEmpty, !hostPort.contains("@") else { return nil }
        let parts = rest[rest.index(after: slash)...].split(separator: "/", omittingEmptySubsequences: true)
        guard let last = parts.last, !last.isEmpty, parts.count <= 2 else { return nil }
        origin = String(url[..<slash])
        name = String(last)
        if parts.count == 2, parts[0].count == 12, parts[0].allSatisfy({ $0.isASCII && $0.isNumber }) {
            account = String(parts[0])
        }
        let host = hostPort.split(separator: ":").first.map(String.init) ?? ""
        let labels = host.lowercased().split(separator: ".").map(String.init)
        region = nil
        if let i = labels.firstIndex(of: "sqs"), i + 1 < labels.count, EC2Config.isRegionName(labels[i + 1]), labels[i + 1].contains("-") {
            region = labels[i + 1]
        } else if labels.count >= 4, labels[1] == "queue", EC2Config.isRegionName(labels[0]), labels[0].contains("-") {
            region = labels[0]
        }
    }
}
