/// What to do when a backend's slots run out.
public struct GrowthPolicy: Sendable, Hashable {
    public enum Mode: String, Sendable, Hashable { case none, addServer = "add_server" }
    public var mode: Mode
    /// How many servers one growth step adds.
    public var increment: Int
    /// Upper bound on slots (configured plus added), so a runaway source cannot grow a backend without limit.
    public var maxSlots: Int

    public static let defaultIncrement = 10
    /// The default upper bound; never below a backend's configured `slots`.
    public static let defaultMaxSlots = 10_000

    public init(mode: Mode = .none, increment: Int = defaultIncrement, maxSlots: Int = defaultMaxSlots) {
        self.mode = mode
        self.increment = increment
        self.maxSlots = maxSlots
    }
}
