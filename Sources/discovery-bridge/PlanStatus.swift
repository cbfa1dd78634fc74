import ArgumentParser
import Bridge
import DiscoveryCore
import Foundation
import HAProxyRuntime
import Logging
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
            FileHandle.standardError.write(Data("--wait: expected a duration such as \"15s\", got \"\(wait)\"\n".utf8))
            throw exitBadConfig
        }
        let config = loaded.config
        let keys = Set(config.backends.flatMap { $0.sources.map(\.key) })
        let probe = await DiscoveryProbe.firstSnapshots(providers: loaded.providers, sourceKeys: keys, timeout: waitFor)
        for (provider, error) in probe.failures.sorted(by: { $0.key < $1.key }) {
            FileHandle.standardError.write(Data("# provider \(provider) failed: \(error)\n".utf8))
        }
        for key in probe.missing {
            FileHandle.standardError.write(Data("# source \(key) did not answer within \(wait): its backends are planned without changes\n".utf8))
        }
        let client = RuntimeClient(endpoint: RuntimeEndpoint(config.haproxy.runtimeAPI), timeout: config.haproxy.timeout, logger: logger)
        defer { client.close() }
        let live: LiveState
        do {
            live = try await client.readLiveState()
        } catch {
            FileHandle.standardError.write(Data("cannot read live HAProxy state: \(error)\n".utf8))
            throw ExitCode(69)
        }
        var tables: [String: BackendSlots] = [:]
        do {
            tables = try StateStore(path: config.stateFile).load()?.backends ?? [:]
        } catch {
            FileHandle.standardError.write(Data("# state file unusable (\(error)); planning from live state\n".utf8))
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
            FileHandle.standardError.write(Data("state file unusable: \(error)\n".utf8))
            throw ExitCode(65)
        }
        if let other = compare {
            try await StatusCompare.run(config: config, doc: doc, other: other)
            return
        }
        let client = RuntimeClient(endpoint: RuntimeEndpoint(config.haproxy.runtimeAPI), timeout: config.haproxy.timeout, logger: logger)
        defer { client.close() }
        let live = try? await client.readLiveState()
        let tables = doc?.backends ?? [:]
        if json {
            var rows: [JSONValue] = []
            for backend in config.backends {
                for slot in tables[backend.name]?.slots ?? [] {
                    var o: [String: JSONValue] = [
                        "backend": .string(backend.name), "slot": .string(slot.server), "state": .string(slot.state.rawValue),
                        "weight": .int(Int64(slot.weight)), "since": .double(slot.since), "dynamic": .bool(slot.dynamic),
                    ]
                    if let id = slot.instanceID { o["instance"] = .string(id) }
                    if let ep = slot.endpoint { o["address"] = .string(ep) }
                    if let l = live?.backends[backend.name]?[slot.server] { o["haproxy"] = .string(l.admin.rawValue) }
                    rows.append(.object(o))
                }
            }
            var holds: [String: JSONValue] = [:]
            for (backend, hold) in doc?.guardHolds ?? [:] {
                holds[backend] = .object(["reason": .string(hold.reason), "since": .double(hold.since), "would_remove": .int(Int64(hold.wouldRemove))])
            }
            print(JSONValue.object(["slots": .array(rows), "guard_holds": .object(holds), "haproxy_reachable": .bool(live != nil)]).serialized(pretty: true))
            return
        }
        let formatter = ISO8601DateFormatter()
        var lines = [["BACKEND", "SLOT", "STATE", "INSTANCE", "ADDRESS", "WEIGHT", "SINCE", "HAPROXY"]]
        for backend in config.backends {
            for slot in tables[backend.name]?.slots ?? [] {
                let haproxyState = live.map { $0.backends[backend.name]?[slot.server]?.admin.rawValue ?? "missing" } ?? "unreachable"
                lines.append([
                    backend.name, slot.server, slot.state.rawValue, slot.instanceID ?? "-", slot.endpoint ?? "-", String(slot.weight),
                    formatter.string(from: Date(timeIntervalSince1970: slot.since)), haproxyState,
                ])
            }
        }
        let widths = (0..<lines[0].count).map { col in lines.map { $0[col].count }.max() ?? 0 }
        for line in lines {
            print(zip(line, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
        for (backend, hold) in (doc?.guardHolds ?? [:]).sorted(by: { $0.key < $1.key }) {
            print("guard holding \(backend) since \(formatter.string(from: Date(timeIntervalSince1970: hold.since))): \(hold.reason) (would remove \(hold.wouldRemove))")
        }
        if doc == nil { print("(no state file at \(config.stateFile) yet)") }
    }
}
