import CurlHTTP
import DiscoveryCore
import Foundation

/// The Consul fake plus a client for its control endpoints.
public final class ConsulFake: @unchecked Sendable {
    public let server: FakeServer
    let client = HTTPClient()
    public var address: String { "http://127.0.0.1:\(server.port)" }

    public init(arguments: [String] = []) throws {
        server = try FakeServer(script: "consul_fake.py", arguments: ["--max-seconds", "120"] + arguments)
    }

    public func control(_ op: String, _ body: [String: JSONValue] = [:]) async throws {
        let r = try await client.execute(HTTPRequest(method: "POST", url: "\(address)/_fake/\(op)", body: Array(JSONValue.object(body).serialized().utf8), timeout: .seconds(5)))
        guard r.status == 200 else { throw TestSupportError("consul fake control \(op): \(r.status) \(r.bodyText)") }
    }

    public func register(_ service: String, id: String, node: String = "node1", nodeAddress: String = "10.0.0.1", port: Int = 8080,
                  tags: [String] = [], checks: [(String, String)] = []) async throws {
        try await control("register", [
            "service": .string(service), "id": .string(id), "node": .string(node), "node_address": .string(nodeAddress),
            "port": .int(Int64(port)), "tags": .array(tags.map { .string($0) }),
            "checks": .array(checks.map { .object(["id": .string($0.0), "status": .string($0.1)]) }),
        ])
    }

    public func stats() async throws -> (paths: [String: Int], queries: [(time: Double, path: String, query: String, token: Bool)]) {
        let r = try await client.execute(HTTPRequest(url: "\(address)/_fake/stats", timeout: .seconds(5)))
        let doc = try JSONValue.parse(bytes: r.body)
        var paths: [String: Int] = [:]
        for (k, v) in doc["paths"]?.objectValue ?? [:] { paths[k] = v.intValue ?? 0 }
        let queries = (doc["queries"]?.arrayValue ?? []).compactMap { q -> (Double, String, String, Bool)? in
            guard let a = q.arrayValue, a.count == 4 else { return nil }
            return (a[0].doubleValue ?? 0, a[1].stringValue ?? "", a[2].stringValue ?? "", a[3].boolValue ?? false)
        }
        return (paths, queries.map { (time: $0.0, path: $0.1, query: $0.2, token: $0.3) })
    }

    public func stop() {
        client.shutdown()
        server.stop()
    }
}
