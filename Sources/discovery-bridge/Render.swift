import ArgumentParser
import Bridge
import DiscoveryCore
import Foundation
import HAProxyRuntime
import ServiceLifecycle
import StateStore

struct Render: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the haproxy.cfg backend blocks with their pre-allocated slots.")
    @OptionGroup var options: CommonOptions

    func run() async throws {
        let (loaded, _) = try loadConfig(options)
        print(HAProxyConfigRenderer.render(loaded.config, source: options.config), terminator: "")
    }
}
