import Basics
import ArgumentParser
import Bridge
import DiscoveryCore
import FoundationEssentials
import HAProxyRuntime
import StateStore

struct Plan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Dry run: ask the providers once, read live HAProxy and print the exact Runtime API commands the bridge would send. Sends nothing."
    )
    @OptionGroup var options: CommonOptions
    @Option(help: "How long to wait for every source's first answer.")
    var wait: String = "15s"

    func run() async throws {
        let (loaded, logger) = try loadConfig(options)
        guard let waitFor = DurationText.parse(wait) else {
            StandardError.write("--wait: expected a duration such as \"15s\", got \"\(wait)\"\n")
            throw exitBadConfig
        }
        let config = loaded.config
        let keys = Set(config.backends.flatMap { $0.sources.map(\.key) })
        let probe = await DiscoveryProbe.firstSnapshots(providers: loaded.providers, sourceKeys: keys, timeout: waitFor)
        for (provider, error) in probe.failures.sorted(by: { $0.key < $1.key }) {
            StandardError.write("# provider \(provider) failed: \(error)\n")
        }
        for key in probe.missing {
            StandardError.write("# source \(key) did not answer within \(wait): its backends are planned without changes\n")
        }
        let client = RuntimeClient(endpoint: config.haproxy.runtimeAPI, timeout: config.haproxy.timeout, logger: logger)
        defer { client.close() }
        let live: LiveState
        do {
            live = try await client.readLiveState()
        } catch {
            StandardError.write("cannot read live HAProxy state: \(error)\n")
            throw ExitCode(69)
        }
        var tables: [String: BackendSlots] = [:]
        do {
            tables = try StateStore(path: config.stateFile).load()?.backends ?? [:]
        } catch {
            StandardError.write("# state file unusable (\(error)); planning from live state\n")
        }
        let sessions = (try? await client.readSessions(backends: config.backends.map(\.name))) ?? [:]
        let items = Planning.plan(
            backends: config.backends, tables: tables, live: live.backends, snapshots: probe.snapshots,
            sessions: sessions, now: Date().timeIntervalSince1970
        )
        var total = 0
        for item in items {
            print("# backend \(item.plan.backend): \(item.plan.commands.count) command(s)")
            if let hold = item.hold { print("#   guard holds this change: \(hold.reason)") }
            for change in item.plan.changes { print("#   \(change)") }
            for id in item.plan.unslotted.map(\.id) { print("#   no slot for \(id)") }
            for r in item.desired.rejected { print("#   rejected \(r.id): \(r.reason)") }
            for c in item.plan.commands { print(c.line) }
            total += item.plan.commands.count
        }
        print("# \(total) command(s) in total; nothing was sent")
    }
}
