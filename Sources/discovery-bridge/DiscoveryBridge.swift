import Basics
import ArgumentParser
import Bridge
import BuildInfo
import DiscoveryCore
import FoundationEssentials
import HAProxyRuntime
import Logging
import ServiceLifecycle
import StateStore

@main
struct DiscoveryBridge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "discovery-bridge",
        abstract: "Keeps HAProxy backends in step with service discovery through the Runtime API, without reloads.",
        version: BuildInfo.summary,
        subcommands: [Run.self, Validate.self, Plan.self, Render.self, Status.self]
    )
}

/// EX_CONFIG from sysexits.h: the config is wrong.
let exitBadConfig = ExitCode(78)

/// Logs go to stderr as logfmt; under systemd (JOURNAL_STREAM set) without timestamps, journald adds its own.
let bootstrapLogging: Void = {
    let underJournal = ProcessInfo.processInfo.environment["JOURNAL_STREAM"] != nil
    LoggingSystem.bootstrap { label in LogfmtHandler(label: label, timestamps: !underJournal) }
}()

func makeLogger(level: String?, configLevel: Logger.Level?) -> Logger {
    _ = bootstrapLogging
    var logger = Logger(label: "discovery-bridge")
    logger.logLevel = level.flatMap(Logger.Level.init(rawValue:)) ?? configLevel ?? .info
    return logger
}

func loadConfig(_ options: CommonOptions) throws -> (LoadedConfig, Logger) {
    if let level = options.logLevel, Logger.Level(rawValue: level) == nil {
        StandardError.write("--log-level: expected one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(level)\"\n")
        throw exitBadConfig
    }
    let bootstrapLogger = makeLogger(level: options.logLevel, configLevel: nil)
    do {
        let loaded = try ConfigLoader(factories: ProviderRegistry.factories, logger: bootstrapLogger).load(path: options.config)
        return (loaded, makeLogger(level: options.logLevel, configLevel: loaded.config.logLevel))
    } catch {
        StandardError.write("invalid config: \(error)\n")
        throw exitBadConfig
    }
}
