import ArgumentParser
import Bridge
import DiscoveryCore

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the bridge until SIGTERM or SIGINT.")
    @OptionGroup var options: CommonOptions

    func run() async throws {
        MallocTuning.apply()
        let (loaded, logger) = try loadConfig(options)
        try await BridgeAssembly(loaded: loaded, factories: ProviderRegistry.factories, logger: logger).run()
    }
}
