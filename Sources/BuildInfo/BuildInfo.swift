/// What this binary is: its version (from the repository's `VERSION` file), git commit and compiler version.
///
/// The values are generated before every build by the `BuildInfoPlugin` (scripts/build-info.sh), so `--version`,
/// `status`, the `discovery_bridge_build_info` metric and the Debian package all read the one `VERSION` file.
public enum BuildInfo {
    /// The release version, e.g. `0.1.0`.
    public static let version = generatedVersion
    /// The git commit the binary was built from (12 hex digits, `-dirty` with uncommitted changes, or `unknown`).
    public static let commit = generatedCommit
    /// The Swift compiler version that built it, e.g. `6.3.1`.
    public static let swiftVersion = generatedSwiftVersion

    /// One line for `--version` and `status`: `discovery-bridge 0.1.0 (commit 1a2b3c4d5e6f, Swift 6.3.1)`.
    public static var summary: String { "discovery-bridge \(version) (commit \(commit), Swift \(swiftVersion))" }
}
