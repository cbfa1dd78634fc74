import DiscoveryCore
import Foundation
import TestSupport
import XCTest

/// What the shipped alert rules and dashboard promise: every metric they query is one a running bridge exports,
/// and the build it reports is the one in `VERSION`.
final class MonitoringContractTests: XCTestCase {
    /// Metrics the rules and the dashboard use that this file-provider bridge cannot export: the managed-config gauge
    /// appears only with `haproxy.managed_config` (ManagedConfigFaultTests reads it), the lifecycle-completion counters
    /// only with `providers.ec2.events` (EC2EventsEndToEndTests reads them). Any other name must be exported here.
    static let pendingMetrics: Set<String> = [
        "discovery_bridge_managed_config_failing",
        "discovery_bridge_lifecycle_completions_total",
        "discovery_bridge_lifecycle_completion_failures_total",
    ]

    static let contractFiles = ["contrib/prometheus/discovery-bridge.rules.yml", "contrib/grafana/discovery-bridge.json"]

    func test_every_metric_the_alert_rules_and_the_dashboard_use_is_exported_by_a_running_bridge() async throws {
        let dir = try TemporaryDirectory(prefix: "db-monitoring")
        defer { dir.remove() }
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 2)])
        defer { h.cleanup() }
        let port = try FreePort.allocate()
        try dir.write("instances.json", #"{"services": {"web": [{"id": "w1", "address": "127.0.0.1", "port": 18700}]}}"#)
        try dir.write("config.json", """
        {
          "haproxy": { "runtime_api": "unix:\(h.socketPath)" },
          "state_file": "\(dir.file("state.json"))",
          "metrics": { "listen": "127.0.0.1:\(port)" },
          "providers": { "file": { "path": "\(dir.file("instances.json"))" } },
          "backends": [{ "name": "web", "slots": 2, "port": 8080, "server_options": "",
                         "growth": { "mode": "add_server", "increment": 2, "max_slots": 4 },
                         "sources": [{ "provider": "file", "service": "web" }] }]
        }
        """)
        let bridge = try BridgeProcess(config: dir.file("config.json"), logPath: dir.file("bridge.log"))
        defer { bridge.stop() }
        try await eventually("instance ready", timeout: .seconds(15)) { try await h.readyEndpoints("web").count == 1 }
        try await eventually("metrics up", timeout: .seconds(10)) { (try? await httpGet("http://127.0.0.1:\(port)/metrics"))?.status == 200 }
        let text = try await httpGet("http://127.0.0.1:\(port)/metrics").body
        let exported = Self.exportedSeriesNames(text)

        var used: [String: Set<String>] = [:]
        for file in Self.contractFiles {
            let body = try String(contentsOfFile: "\(repositoryRoot)/\(file)", encoding: .utf8)
            for name in Self.metricNames(in: body) { used[name, default: []].insert(file) }
        }
        XCTAssertGreaterThan(used.count, 15, "the rules and the dashboard name the bridge's metrics")
        let missing = used.keys.filter { !exported.contains($0) && !Self.pendingMetrics.contains($0) }.sorted()
        XCTAssertEqual(missing, [], "used by \(missing.map { "\($0) (\(used[$0]!.sorted().joined(separator: ", ")))" }) but not exported:\n\(text)")
        let landed = Self.pendingMetrics.filter { exported.contains($0) }.sorted()
        if !landed.isEmpty {
            print("MonitoringContractTests: now exported, remove from pendingMetrics: \(landed.joined(separator: ", "))")
        }
        let unused = Self.pendingMetrics.subtracting(used.keys)
        XCTAssertEqual(unused, [], "a pending metric no rule or panel uses is a stale entry")

        let info = text.split(separator: "\n").first { $0.hasPrefix("discovery_bridge_build_info{") }
        let line = try XCTUnwrap(info, text)
        XCTAssertTrue(line.contains(#"version="\#(try Self.repositoryVersion())""#), String(line))
        XCTAssertTrue(line.hasSuffix(" 1.0") || line.hasSuffix(" 1"), String(line))
        XCTAssertTrue(line.contains(#"swift="6."#), String(line))
    }

    func test_version_flag_prints_the_version_file_and_a_commit_of_this_repository() async throws {
        let r = try await runCommand(bridgeExecutable, ["--version"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let version = try Self.repositoryVersion()
        XCTAssertTrue(r.stdout.hasPrefix("discovery-bridge \(version) (commit "), r.stdout)
        let commit = try XCTUnwrap(r.stdout.split(separator: " ").dropFirst(3).first.map { String($0.dropLast()) }, r.stdout)
        let hash = commit.hasSuffix("-dirty") ? String(commit.dropLast(6)) : commit
        XCTAssertTrue(hash.count == 12 && hash.allSatisfy(\.isHexDigit), "a 12-digit commit, got \(commit)")
        if let git = which("git") {
            let known = try await runCommand(git, ["-C", repositoryRoot, "cat-file", "-e", "\(hash)^{commit}"])
            XCTAssertEqual(known.status, 0, "\(hash) is a commit of this repository")
        }
    }

    func test_status_shows_the_version() async throws {
        let dir = try TemporaryDirectory(prefix: "db-status-version")
        defer { dir.remove() }
        try dir.write("config.json", """
        { "haproxy": { "runtime_api": "unix:\(dir.file("none.sock"))", "timeout_ms": 200 }, "state_file": "\(dir.file("state.json"))",
          "providers": { "file": { "path": "\(dir.file("instances.json"))" } },
          "backends": [{ "name": "web", "slots": 1, "port": 80, "sources": [{ "provider": "file", "service": "web" }] }] }
        """)
        let version = try Self.repositoryVersion()
        let text = try await runCommand(bridgeExecutable, ["status", "--config", dir.file("config.json")])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.hasPrefix("discovery-bridge \(version) (commit "), text.stdout)
        let json = try await runCommand(bridgeExecutable, ["status", "--config", dir.file("config.json"), "--json"])
        XCTAssertEqual(json.status, 0, json.stderr)
        XCTAssertEqual(try JSONValue.parse(json.stdout)["bridge"]?["version"]?.stringValue, version, json.stdout)
    }

    // MARK: helpers

    static func repositoryVersion() throws -> String {
        try String(contentsOfFile: "\(repositoryRoot)/VERSION", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Every `discovery_bridge_…` name in a rules or dashboard file (expressions, legends and descriptions alike).
    static func metricNames(in text: String) -> Set<String> {
        var names: Set<String> = []
        let bytes = Array(text.utf8)
        let prefix = Array("discovery_bridge_".utf8)
        var i = 0
        while i + prefix.count <= bytes.count {
            if Array(bytes[i..<i + prefix.count]) == prefix, i == 0 || !isNameByte(bytes[i - 1]) {
                var j = i + prefix.count
                while j < bytes.count, isNameByte(bytes[j]) { j += 1 }
                names.insert(String(decoding: bytes[i..<j], as: UTF8.self))
                i = j
            } else {
                i += 1
            }
        }
        return names
    }

    static func isNameByte(_ b: UInt8) -> Bool {
        (b >= 97 && b <= 122) || (b >= 48 && b <= 57) || b == 95 || (b >= 65 && b <= 90)
    }

    /// Series names in Prometheus text, plus each family name from `# TYPE` (a histogram's own name, say).
    static func exportedSeriesNames(_ text: String) -> Set<String> {
        var names: Set<String> = []
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                if parts.count >= 3 { names.insert(String(parts[2])) }
            } else if !line.hasPrefix("#") {
                let end = line.firstIndex { $0 == "{" || $0 == " " } ?? line.endIndex
                names.insert(String(line[..<end]))
            }
        }
        return names
    }
}
