import ArgumentParser
import Bridge
import DiscoveryCore
import FoundationEssentials
import HAProxyRuntime
import ServiceLifecycle
import StateStore

/// Options every subcommand shares.
struct CommonOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "Path of the JSON config file.")
    var config: String = "/etc/discovery-bridge/config.json"

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical (overrides log_level).")
    var logLevel: String?
}
