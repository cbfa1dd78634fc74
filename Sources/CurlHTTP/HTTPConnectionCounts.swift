/// TCP connections of one client: open now, the most open at once since the last reset, opened in total.
public struct HTTPConnectionCounts: Sendable, Hashable {
    public var open: Int
    public var peak: Int
    public var opened: Int
}
