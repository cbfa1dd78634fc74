import Basics
import ArgumentParser
import Bridge
import CurlHTTP
import DiscoveryCore
import FoundationEssentials
import StateStore

/// `status --compare FILE|URL`: the slots whose instance differs from the other host of an HA pair.
///
/// Exit status, like diff(1): 0 when the tables agree, 1 when some slot differs, 2 when the other side cannot be read.
enum StatusCompare {
    static let differ = ExitCode(1)
    static let unreadable = ExitCode(2)

    static func run(config: BridgeConfig, doc: StateDocument?, other: String) async throws {
        let there: SlotComparison.Served
        do {
            there = try await read(other)
        } catch {
            StandardError.write("cannot read the other side \(other): \(error)\n")
            throw unreadable
        }
        let here = SlotComparison.served(doc?.backends ?? [:])
        let differences = SlotComparison.differences(here: here, there: there, backends: config.backends)
        let compared = config.backends.reduce(0) { n, b in n + Set((here[b.name] ?? [:]).keys).union((there[b.name] ?? [:]).keys).count }
        if differences.isEmpty {
            print("slot tables agree: \(compared) serving slot(s) in \(config.backends.count) backend(s), compared with \(other)")
            return
        }
        var lines = [["BACKEND", "SLOT", "HERE", "THERE"]]
        for d in differences { lines.append([d.backend, d.slot, d.here ?? "-", d.there ?? "-"]) }
        for line in TextTable.lines(lines) { print(line) }
        print("\(differences.count) slot(s) differ from \(other)")
        throw differ
    }

    /// Another host's state file, or another bridge's `/status` (http:// or https://).
    static func read(_ other: String) async throws -> SlotComparison.Served {
        if other.hasPrefix("http://") || other.hasPrefix("https://") {
            let client = HTTPClient()
            defer { client.shutdown() }
            var request = HTTPRequest(url: other, timeout: .seconds(10))
            request.connectTimeout = .seconds(3)
            request.maxBodyBytes = 64 << 20
            let response = try await client.execute(request)
            guard response.status == 200 else { throw ComparisonError("HTTP \(response.status) from \(other)") }
            return try SlotComparison.served(statusJSON: response.body)
        }
        guard FileManager.default.fileExists(atPath: other) else { throw ComparisonError("no such file") }
        guard let doc = try StateStore(path: other).load() else { throw ComparisonError("no state in the file") }
        return SlotComparison.served(doc.backends)
    }
}
