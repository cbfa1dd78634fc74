/// A complete HTTP response, whatever its status.
public struct HTTPResponse: Sendable {
    public var status: Int
    /// Header fields of the final response, names lowercased, in the order received.
    public var headers: [HTTPHeader]
    public var body: [UInt8]
    /// The HTTP version the answer came in: 1 (HTTP/1.x), 2 or 3.
    public var httpVersion = 1

    public init(status: Int, headers: [HTTPHeader], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The value of header `name` (case-insensitive); the last one wins when repeated.
    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.last(where: { $0.name == lower })?.value
    }

    /// The body decoded as UTF-8 (invalid sequences replaced).
    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// Throws `HTTPStatusError` unless the status is 2xx.
    public func requireSuccess(context: String = "") throws(HTTPStatusError) {
        guard (200..<300).contains(status) else {
            throw HTTPStatusError(status: status, body: body, context: context)
        }
    }
}
