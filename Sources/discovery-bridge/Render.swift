import Basics
import ArgumentParser
import Bridge
import DiscoveryCore
import FoundationEssentials
import HAProxyRuntime
import ServiceLifecycle
import StateStore

struct Render: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the HAProxy backend sections: with haproxy.managed_config, exactly the managed file the bridge would write now (from the state file when there is one); without it, the haproxy.cfg blocks with their pre-allocated slots."
    )
    @OptionGroup var options: CommonOptions

    func run() async throws {
        let (loaded, _) = try loadConfig(options)
        let config = loaded.config
        guard config.haproxy.managedConfig != nil else {
            print(HAProxyConfigRenderer.render(config, source: options.config), terminator: "")
            return
        }
        var tables: [String: BackendSlots] = [:]
        do {
            tables = try StateStore(path: config.stateFile).load()?.backends ?? [:]
        } catch {
            // Rendering from a damaged state file would print a file that empties every backend on the next reload.
            StandardError.write("state file unusable: \(error)\n")
            throw ExitCode(65)
        }
        print(ManagedConfigRenderer.render(config, tables: tables), terminator: "")
    }
}
