import ArgumentParser
import Bridge
import DiscoveryCore
import Foundation
import HAProxyRuntime
import ServiceLifecycle
import StateStore

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the bridge until SIGTERM or SIGINT.")
    @OptionGroup var options: CommonOptions

    func run() async throws {
        let (loaded, logger) = try loadConfig(options)
        let daemon = BridgeDaemon(loaded: loaded, configPath: options.config, logLevelOverride: options.logLevel, logger: logger) { path in
            try ConfigLoader(factories: ProviderRegistry.factories, logger: logger).load(path: path)
        }
        try await daemon.run()
    }
}
