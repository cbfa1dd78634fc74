/// An instance a backend cannot take, and why.
public struct RejectedInstance: Sendable, Hashable {
    public var id: String
    public var reason: String
}
