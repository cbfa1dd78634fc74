import BuildInfo

/// Which build produced a status document: its version (from `VERSION`) and git commit.
public struct BridgeVersion: Codable, Sendable, Equatable {
    public var version: String
    public var commit: String

    public init(version: String, commit: String) {
        self.version = version
        self.commit = commit
    }

    /// The running binary.
    public static let current = BridgeVersion(version: BuildInfo.version, commit: BuildInfo.commit)
}
