import Bridge
import DiscoveryCore
import EC2Provider
import FileProvider
import Foundation
import TestSupport
import XCTest

/// moto (EC2 + SQS), the Auto Scaling recorder in front of it, HTTP backends, a real HAProxy and an in-process bridge
/// whose EC2 provider refreshes only every 5 minutes, so that within a test only events can explain a change.
final class EC2EventsFixture: @unchecked Sendable {
    let moto: Moto
    let recorder: ReportingProcess
    let recorderURL: String
    let queue: SQSQueue
    let http: HTTPBackends
    let haproxy: HAProxyInstance
    let bridge: BridgeHarness
    /// Instance id → backend port, for the instances launched so far.
    private(set) var ports: [String: Int] = [:]
    private var spare: [Int]

    /// `instances` tagged `web` instances are launched before the bridge starts; `spareBackends` more wait for `launch()`.
    init(instances: Int, spareBackends: Int = 0, slots: Int = 8, drainTimeout: String = "20s", events: String = "",
         queueURL: ((String) -> String)? = nil) async throws {
        moto = try Moto()
        recorder = try ReportingProcess(name: "autoscaling-recorder", executable: "python3",
                                        arguments: [fakesDirectory + "/autoscaling_recorder.py", "\(moto.port)"])
        recorderURL = "http://127.0.0.1:\(try recorder.readPort())"
        queue = try await SQSQueue(moto: moto, name: "bridge-events-\(UUID().uuidString.prefix(8))")
        http = try await HTTPBackends(count: instances + spareBackends)
        spare = Array(http.ports.dropFirst(instances))
        haproxy = try await HAProxyInstance(backends: [.init(name: "web", slots: slots)])
        let url = queueURL?(queue.url) ?? queue.url
        bridge = try BridgeHarness(haproxy: haproxy, backendsJSON: """
        [{ "name": "web", "slots": \(slots), "port": 8080, "server_options": "", "drain_timeout": "\(drainTimeout)",
           "sources": [{ "provider": "ec2", "service": "web" }] }]
        """, extra: #""guard": {"max_removed_fraction": 0.5, "min_servers": 1}"#,
        providersJSON: """
        { "ec2": { "regions": ["us-east-1"], "endpoint": "\(moto.endpoint)", "refresh_interval": "5m",
                   "credentials": { "access_key_id": "AKIAEVENTTEST", "secret_access_key": "event-test-secret" },
                   "events": { "queue_url": "\(url)", "autoscaling_endpoint": "\(recorderURL)"\(events.isEmpty ? "" : ", \(events)") } } }
        """, factories: [FileProviderFactory(), EC2ProviderFactory()])
        if instances > 0 { try launchBatch(ports: Array(http.ports.prefix(instances))) }
    }

    /// Launches a tagged instance in moto whose address is 127.0.0.1 and whose port tag is `port` (or the next spare backend).
    @discardableResult
    func launch(port: Int? = nil, service: String = "web", extraTags: [String: String] = [:]) throws -> String {
        guard let p = port ?? (spare.isEmpty ? nil : spare.removeFirst()) else { throw TestSupportError("no spare backend") }
        let ids = try moto.run(region: "us-east-1", tags: ["HAProxy:Service:Name": service, "HAProxy:Service:Port": "\(p)"].merging(extraTags) { a, _ in a },
                               privateIP: "127.0.0.1")
        guard let id = ids.first else { throw TestSupportError("moto launched nothing") }
        ports[id] = p
        return id
    }

    /// Launches one tagged instance per port in a single seeding run (a boto3 start costs about a second).
    @discardableResult
    func launchBatch(ports list: [Int]) throws -> [String] {
        let ops: [[String: Any]] = list.map {
            ["op": "run", "region": "us-east-1", "count": 1, "private_ip": "127.0.0.1",
             "tags": ["HAProxy:Service:Name": "web", "HAProxy:Service:Port": "\($0)"]]
        }
        let results = try moto.seed(ops)
        var ids: [String] = []
        for (port, result) in zip(list, results) {
            guard let id = (result["ids"] as? [String])?.first else { throw TestSupportError("moto launched nothing") }
            ports[id] = port
            ids.append(id)
        }
        return ids
    }

    /// Launches `count` tagged instances on spare backends at once.
    func launchSpare(_ count: Int) throws -> [String] {
        guard spare.count >= count else { throw TestSupportError("not enough spare backends") }
        let list = Array(spare.prefix(count))
        spare.removeFirst(count)
        return try launchBatch(ports: list)
    }

    func endpoint(_ id: String) -> String { "127.0.0.1:\(ports[id] ?? 0)" }

    /// Starts the bridge and waits until every launched instance is ready.
    func start() async throws {
        try bridge.start()
        let expected = Set(ports.values.map { "127.0.0.1:\($0)" })
        try await eventually("launched instances ready", timeout: .seconds(30)) { Set(try await self.bridge.ready("web").values) == expected }
    }

    /// HAProxy's admin state bits of the slot serving `id` (nil when no slot has its address).
    func adminState(_ id: String) async throws -> Int? {
        let want = ports[id]
        return try await bridge.servers("web").values.first { $0.port == want && $0.address == "127.0.0.1" }?.adminState
    }

    /// Drained as a client sees it: its server is in drain or maintenance, or no server holds its address any more
    /// (a slot whose drain ended at once, with no sessions, goes back to the placeholder in the same cycle).
    func takesNoNewTraffic(_ id: String) async throws -> Bool {
        guard let admin = try await adminState(id) else { return true }
        return admin & 0x3B != 0
    }

    func isReady(_ id: String) async throws -> Bool { try await bridge.ready("web").values.contains(endpoint(id)) }

    /// Sends `body` and returns how long until `condition` held, polling HAProxy every 2 ms.
    func timeUntil(_ what: String, after body: String, timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws -> Duration {
        let sent = ContinuousClock.now
        try await queue.send(body)
        try await eventually(what, timeout: timeout, every: .milliseconds(2), condition)
        return ContinuousClock.now - sent
    }

    /// Lifecycle calls the recorder saw: action name, its parameters and when (Unix seconds).
    func lifecycleCalls() throws -> [(action: String, params: [String: String], time: Double)] {
        let text = try runTool("curl", ["-sS", "--max-time", "5", recorderURL + "/__calls"], timeout: 10)
        let list = (try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]]) ?? []
        return list.map { ($0["action"] as? String ?? "", $0["params"] as? [String: String] ?? [:], $0["time"] as? Double ?? 0) }
    }

    func stop() async {
        await bridge.cleanup()
        queue.close()
        haproxy.cleanup()
        http.stop()
        recorder.stop()
        moto.stop()
    }
}

/// The p-th percentile (0...100) of `values`, nearest rank.
func percentile(_ values: [Duration], _ p: Double) -> Duration {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .zero }
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
}
