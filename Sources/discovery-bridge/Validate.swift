import ArgumentParser
import Bridge
import DiscoveryCore
import FoundationEssentials
import HAProxyRuntime
import ServiceLifecycle
import StateStore

struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check a config file; exit 0 when valid, 78 when not.")
    @OptionGroup var options: CommonOptions

    func run() async throws {
        let (loaded, _) = try loadConfig(options)
        let c = loaded.config
        let slots = c.backends.reduce(0) { $0 + $1.slots }
        print("\(options.config): valid: \(c.backends.count) backend(s), \(slots) slot(s), providers: \(c.providers.keys.sorted().joined(separator: ", "))")
    }
}
