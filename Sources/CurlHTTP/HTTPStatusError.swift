import Basics

/// A non-2xx HTTP answer, with the start of its body for the log.
public struct HTTPStatusError: Error, Sendable, CustomStringConvertible {
    public var status: Int
    /// At most the first 512 bytes of the body, decoded as UTF-8.
    public var bodyPrefix: String
    /// What was being done (e.g. `GET /v1/health/service/web`); never contains credentials.
    public var context: String

    public init(status: Int, body: [UInt8], context: String = "") {
        self.status = status
        self.bodyPrefix = String(decoding: body.prefix(512), as: UTF8.self)
            .trimmingWhitespace()
        self.context = context
    }

    public var description: String {
        let what = context.isEmpty ? "" : "\(context): "
        return bodyPrefix.isEmpty ? "\(what)HTTP \(status)" : "\(what)HTTP \(status): \(bodyPrefix)"
    }
}
