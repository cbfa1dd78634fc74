import Logging

/// The environment a provider is built in, passed explicitly so tests can control it.
public struct ProviderContext: Sendable {
    public var environment: [String: String]
    public var logger: Logger
    /// Folder of the config file, for resolving relative paths.
    public var configDirectory: String

    public init(environment: [String: String], logger: Logger, configDirectory: String) {
        self.environment = environment
        self.logger = logger
        self.configDirectory = configDirectory
    }
}
