import Basics
import ArgumentParser
import Bridge
import BuildInfo
import DiscoveryCore
import FoundationEssentials
import HAProxyRuntime
import StateStore

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the slot table (from the state file), with HAProxy's live state when reachable.")
    @OptionGroup var options: CommonOptions
    @Flag(help: "Print JSON instead of a table.")
    var json = false
    @Option(help: ArgumentHelp("Compare the slot table with the other host of an HA pair: its state file, or its bridge's /status URL. Exits 0 when they agree, 1 when a slot differs, 2 when the other side cannot be read.", valueName: "FILE|URL"))
    var compare: String?

    func run() async throws {
        let (loaded, logger) = try loadConfig(options)
        let config = loaded.config
        let doc: StateDocument?
        do {
            doc = try StateStore(path: config.stateFile).load()
        } catch {
            StandardError.write("state file unusable: \(error)\n")
            throw ExitCode(65)
        }
        if let other = compare {
            try await StatusCompare.run(config: config, doc: doc, other: other)
            return
        }
        let client = RuntimeClient(endpoint: config.haproxy.runtimeAPI, timeout: config.haproxy.timeout, logger: logger)
        defer { client.close() }
        let live = try? await client.readLiveState()
        let tables = doc?.backends ?? [:]
        if json {
            let report = SlotTableReport(
                slots: SlotStatus.rows(backends: config.backends, tables: tables, live: live?.backends),
                guardHolds: (doc?.guardHolds ?? [:]).mapValues(GuardHoldStatus.init), haproxyReachable: live != nil,
                managedConfig: ManagedConfigStatus.check(config, tables: tables)
            )
            print(StatusJSON.encode(report), terminator: "")
            return
        }
        print(BuildInfo.summary)
        var lines = [["BACKEND", "SLOT", "STATE", "INSTANCE", "ADDRESS", "WEIGHT", "SINCE", "HAPROXY"]]
        for backend in config.backends {
            for slot in tables[backend.name]?.slots ?? [] {
                let haproxyState = live.map { $0.backends[backend.name]?[slot.server]?.admin.rawValue ?? "missing" } ?? "unreachable"
                lines.append([
                    backend.name, slot.server, slot.state.rawValue, slot.instanceID ?? "-", slot.endpoint ?? "-", String(slot.weight),
                    Date(timeIntervalSince1970: slot.since).formatted(.iso8601), haproxyState,
                ])
            }
        }
        for line in TextTable.lines(lines) { print(line) }
        for (backend, hold) in (doc?.guardHolds ?? [:]).sorted(by: { $0.key < $1.key }) {
            print("guard holding \(backend) since \(Date(timeIntervalSince1970: hold.since).formatted(.iso8601)): \(hold.reason) (would remove \(hold.wouldRemove))")
        }
        if let managed = ManagedConfigStatus.check(config, tables: tables) { print(managed.line) }
        if doc == nil { print("(no state file at \(config.stateFile) yet)") }
    }
}
