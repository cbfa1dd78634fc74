/// `address:port` in HAProxy's notation (an IPv6 address in brackets), also the key that dedupes instances.
public enum Endpoint {
    public static func key(address: String, port: Int) -> String {
        var text = ""
        let bracketed = address.utf8.contains(UInt8(ascii: ":"))
        text.reserveCapacity(address.utf8.count + 8)
        if bracketed { text.append("[") }
        text.append(address)
        text.append(bracketed ? "]:" : ":")
        text.append(String(port))
        return text
    }
}

/// An address and port as a dictionary key: hashed and compared as they are, without writing the `address:port`
/// text (the planner asks "who holds this address" several times per instance; building the text each time was a
/// fifth of its time). Two keys are equal exactly when their `Endpoint.key` texts are.
public struct EndpointKey: Hashable, Sendable {
    public var address: String
    public var port: Int

    public init(address: String, port: Int) {
        self.address = address
        self.port = port
    }

    /// Where a slot without an instance points.
    public static let placeholder = EndpointKey(address: PlaceholderAddress.host, port: PlaceholderAddress.port)

    /// `address:port` as HAProxy writes it.
    public var text: String { Endpoint.key(address: address, port: port) }

    public var isPlaceholder: Bool { port == PlaceholderAddress.port && address == PlaceholderAddress.host }

    public static func == (a: EndpointKey, b: EndpointKey) -> Bool { a.port == b.port && a.address == b.address }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(port)
        hasher.combine(address)
    }
}
