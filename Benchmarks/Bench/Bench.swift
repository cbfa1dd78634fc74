import Dispatch
import Foundation
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// One reported figure; `target` and `met` only for figures with a target.
struct Figure: Codable, Sendable {
    var bench: String
    var name: String
    var value: Double
    var unit: String
    var target: String?
    var met: Bool?
    /// How far from the target, in words ("met by 12.3 ms (62% of the limit)").
    var margin: String?
    var note: String?
}

/// Collects figures and prints them as they come.
final class Report: @unchecked Sendable {
    private(set) var figures: [Figure] = []
    private(set) var skipped: [(String, String)] = []
    private(set) var failures: [(String, String)] = []

    func add(_ bench: String, _ name: String, _ value: Double, _ unit: String, note: String? = nil) {
        figures.append(Figure(bench: bench, name: name, value: value, unit: unit, note: note))
        print(String(format: "  %@: %@ %@%@", name, fmt(value), unit, note.map { "  (\($0))" } ?? ""))
    }

    /// A figure whose target is "at most `limit`".
    func atMost(_ bench: String, _ name: String, _ value: Double, _ unit: String, limit: Double, note: String? = nil) {
        let met = value <= limit
        let margin = met
            ? "met by \(fmt(limit - value)) \(unit) (\(percent(value, limit)) of the limit)"
            : "missed by \(fmt(value - limit)) \(unit) (\(percent(value, limit)) of the limit)"
        figures.append(Figure(bench: bench, name: name, value: value, unit: unit, target: "<= \(fmt(limit)) \(unit)", met: met, margin: margin, note: note))
        print("  \(name): \(fmt(value)) \(unit)  [target <= \(fmt(limit)) \(unit): \(margin)]\(note.map { "  (\($0))" } ?? "")")
    }

    /// A figure whose target is "at least `limit`".
    func atLeast(_ bench: String, _ name: String, _ value: Double, _ unit: String, limit: Double, note: String? = nil) {
        let met = value >= limit
        let margin = met ? "met, \(fmt(value / limit))x the minimum" : "missed, \(fmt(value / limit))x the minimum (short by \(fmt(limit - value)) \(unit))"
        figures.append(Figure(bench: bench, name: name, value: value, unit: unit, target: ">= \(fmt(limit)) \(unit)", met: met, margin: margin, note: note))
        print("  \(name): \(fmt(value)) \(unit)  [target >= \(fmt(limit)) \(unit): \(margin)]\(note.map { "  (\($0))" } ?? "")")
    }

    func skip(_ bench: String, _ why: String) {
        skipped.append((bench, why))
        print("  skipped: \(why)")
    }

    func fail(_ bench: String, _ why: String) {
        failures.append((bench, why))
        print("  FAILED: \(why)")
    }

    func table() -> String {
        let header = ["bench", "figure", "value", "target", "verdict"]
        var rows: [[String]] = figures.map { f in
            [f.bench, f.name, "\(fmt(f.value)) \(f.unit)", f.target ?? "", f.met.map { $0 ? "met" : "MISSED" } ?? ""]
        }
        for (b, why) in skipped { rows.append([b, "skipped", why, "", ""]) }
        for (b, why) in failures { rows.append([b, "FAILED", String(why.prefix(100)), "", ""]) }
        var widths = header.map(\.count)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        func line(_ r: [String]) -> String {
            "| " + r.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }.joined(separator: " | ") + " |"
        }
        var out = [line(header), "|" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "|") + "|"]
        out += rows.map(line)
        return out.joined(separator: "\n")
    }

    func json(options: Options) throws -> Data {
        struct Doc: Encodable {
            var date: String
            var quick: Bool
            var machine: [String: String]
            var figures: [Figure]
            var skipped: [[String]]
            var failures: [[String]]
        }
        var machine: [String: String] = ["cores": "\(ProcessInfo.processInfo.activeProcessorCount)"]
        if let os = try? String(contentsOfFile: "/etc/os-release", encoding: .utf8),
           let pretty = os.split(separator: "\n").first(where: { $0.hasPrefix("PRETTY_NAME=") }) {
            machine["os"] = pretty.dropFirst("PRETTY_NAME=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        let doc = Doc(date: ISO8601DateFormatter().string(from: Date()), quick: options.quick, machine: machine, figures: figures,
                      skipped: skipped.map { [$0.0, $0.1] }, failures: failures.map { [$0.0, $0.1] })
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try enc.encode(doc)
    }
}

func fmt(_ v: Double) -> String {
    if v.isNaN { return "n/a" }
    if v == v.rounded(), abs(v) < 1e9 { return String(Int(v)) }
    if abs(v) >= 100 { return String(format: "%.1f", v) }
    if abs(v) >= 1 { return String(format: "%.2f", v) }
    return String(format: "%.3f", v)
}

func percent(_ v: Double, _ of: Double) -> String { of == 0 ? "n/a" : String(format: "%.0f%%", v / of * 100) }

struct Options: Sendable {
    var quick = false
    var only: Set<String> = []
    var jsonPath = "bench-results.json"
    var bridgeBinary: String?

    static let names = ["propagation", "reload", "coldsync", "cost", "ec2", "reloadproof", "ec2events", "consulscale", "consulscale-h2", "parse", "masschange"]

    static func parse(_ args: [String]) throws -> Options {
        var o = Options()
        var i = 0
        func value() throws -> String {
            i += 1
            guard i < args.count else { throw TestSupportError("\(args[i - 1]) needs a value") }
            return args[i]
        }
        while i < args.count {
            switch args[i] {
            case "--quick": o.quick = true
            case "--only":
                for n in try value().split(separator: ",").map(String.init) {
                    guard names.contains(n) else { throw TestSupportError("unknown benchmark \(n); one of \(names.joined(separator: ", "))") }
                    o.only.insert(n)
                }
            case "--json": o.jsonPath = try value()
            case "--bridge-bin": o.bridgeBinary = try value()
            case "-h", "--help":
                print("""
                usage: discovery-bridge-bench [--quick] [--only NAME[,NAME]] [--json PATH] [--bridge-bin PATH]
                  benchmarks: \(names.joined(separator: ", "))
                  --bridge-bin: the release discovery-bridge binary (default: next to this executable)
                """)
                exit(0)
            default: throw TestSupportError("unknown argument \(args[i]) (try --help)")
            }
            i += 1
        }
        return o
    }

    /// `consulscale` includes its h2 run; `consulscale-h2` is that run alone.
    func wants(_ name: String) -> Bool { only.isEmpty || only.contains(name) || (name == "consulscale-h2" && only.contains("consulscale")) }
}

@main
enum BenchMain {
    static func main() async {
        let options: Options
        do {
            options = try Options.parse(Array(CommandLine.arguments.dropFirst()))
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            exit(2)
        }
        // Ctrl-C / SIGTERM: stop every server this run started, then exit.
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler {
                FileHandle.standardError.write(Data("\ninterrupted; stopping everything the bench started\n".utf8))
                Cleanup.shared.runAll()
                exit(130)
            }
            s.resume()
            sources.append(s)
        }
        let report = Report()
        print("discovery-bridge benchmarks\(options.quick ? " (quick)" : "") — \(ProcessInfo.processInfo.activeProcessorCount) cores")
        let benches: [(String, String, @Sendable (Options, Report) async throws -> Void)] = [
            ("propagation", "1. Propagation latency (file provider, Consul fake → show servers state)", Propagation.run),
            ("reload", "2. Against a reload (master-worker HAProxy, 500 backends × 20 servers)", ReloadComparison.run),
            ("coldsync", "3. Cold sync (empty HAProxy → every slot ready) versus the raw command floor", ColdSync.run),
            ("cost", "4. Cost (release binary idle: RSS, CPU; Consul requests per service per minute)", Cost.run),
            ("ec2", "5. EC2 provider (moto_server: discover, parse and apply 5,000 instances)", EC2Bench.run),
            ("reloadproof", "6. HAProxy reloads under load: bridge with the managed file, without it, consul-template", ReloadProof.run),
            ("ec2events", "7. EC2 events (moto SQS → drained/ready in HAProxy, against polling at 30s)", EC2EventsBench.run),
            ("consulscale", "8. Consul at scale (connection budget vs one connection per service; 10, 200, 2,000 services)", ConsulScale.run),
            ("consulscale-h2", "8b. Consul at scale over HTTPS with h2 (2,000 services, per-service streams)", ConsulScale.runH2),
            ("parse", "9. Instances file parse (10,000 instances; fresh, strict reference, after a partial rewrite)", Parse.run),
            ("masschange", "10. Mass change on a running bridge (2,000 new instances over 100 backends, one file rewrite) versus the raw floor", MassChange.run),
        ]
        for (name, title, body) in benches where options.wants(name) {
            print("\n\(title)")
            do {
                try await body(options, report)
            } catch {
                report.fail(name, "\(error)")
            }
            Cleanup.shared.runAll()
        }
        Cleanup.shared.runAll()
        print("\n" + report.table())
        do {
            try report.json(options: options).write(to: URL(fileURLWithPath: options.jsonPath))
            print("\nresults written to \(options.jsonPath)")
        } catch {
            print("cannot write \(options.jsonPath): \(error)")
        }
        _ = sources
        exit(report.failures.isEmpty ? 0 : 1)
    }
}
