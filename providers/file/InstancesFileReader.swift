import DiscoveryCore

/// Reads successive versions of one instances file, parsing only the services whose bytes changed.
///
/// A service whose array is byte-for-byte what it was last time keeps its instances (the same array storage, so the
/// comparisons downstream are free too); the rest is read by the fast path, and a file outside its shape by the strict
/// reader, which also words every error. A rejected file leaves the remembered version alone.
public struct InstancesFileReader: Sendable {
    private var previous: [UInt8] = []
    private var sections: [String: InstancesFastPath.Section] = [:]
    /// Services the last successful parse took over unchanged from the version before.
    public private(set) var lastReused = 0
    /// Whether the last successful parse needed the strict reader (a file outside the fast path's shape).
    public private(set) var lastUsedStrictReader = false

    public init() {}

    /// Parses `bytes` (the whole file) into instances per service; errors name the file and the JSON path.
    public mutating func parse(_ bytes: [UInt8], file: String) throws(ConfigError) -> [String: [Instance]] {
        if let fast = InstancesFastPath.read(bytes, previous: previous, sections: sections) {
            previous = bytes
            sections = fast.sections
            lastReused = fast.reused
            lastUsedStrictReader = false
            return fast.services
        }
        let services = try InstancesFile.parseStrict(bytes, file: file)
        previous = []
        sections = [:]
        lastReused = 0
        lastUsedStrictReader = true
        return services
    }
}
