import CurlHTTP
import DiscoveryCore
import Foundation

/// The Consul fake plus a client for its control endpoints.
public final class ConsulFake: @unchecked Sendable {
    public let server: FakeServer
    let client: HTTPClient
    /// `https://` when started with TLS (hypercorn, HTTP/2 by ALPN).
    public let scheme: String
    /// The self-signed certificate the TLS listener presents (nil on plain HTTP).
    public let certificate: String?
    private let tempDirectory: URL?
    public var address: String { "\(scheme)://127.0.0.1:\(server.port)" }
    /// Where the test's own calls (control, stats) go: with TLS the fake's plain control listener (same state), so a
    /// write costs what it costs against an agent rather than a round of the fake's pure-Python TLS and HTTP/2.
    public var controlAddress: String { server.extraPorts.first.map { "http://127.0.0.1:\($0)" } ?? address }

    /// Starts the fake; `tls: true` serves the API over TLS with a fresh self-signed certificate for 127.0.0.1.
    public init(arguments: [String] = [], tls: Bool = false, maxSeconds: Int = 120) throws {
        var args = ["--max-seconds", String(maxSeconds)] + arguments
        if tls {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("consul-fake-tls-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let cert = dir.appendingPathComponent("cert.pem").path
            let key = dir.appendingPathComponent("key.pem").path
            let openssl = Process()
            openssl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            openssl.arguments = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", key, "-out", cert,
                                 "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
            openssl.standardOutput = FileHandle.nullDevice
            openssl.standardError = FileHandle.nullDevice
            try openssl.run()
            openssl.waitUntilExit()
            guard openssl.terminationStatus == 0 else { throw TestSupportError("openssl req failed") }
            args += ["--tls-cert", cert, "--tls-key", key]
            certificate = cert
            tempDirectory = dir
            scheme = "https"
        } else {
            certificate = nil
            tempDirectory = nil
            scheme = "http"
        }
        server = try FakeServer(script: "consul_fake.py", arguments: args)
        client = HTTPClient()
    }

    public func control(_ op: String, _ body: [String: JSONValue] = [:]) async throws {
        var request = HTTPRequest(method: "POST", url: "\(controlAddress)/_fake/\(op)", body: Array(JSONValue.object(body).serialized().utf8), timeout: .seconds(30))
        request.tls.caFile = certificate
        let r = try await client.execute(request)
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

    /// Connections the plain-HTTP listener saw from the bridge: open now, most at once, accepted, refused (429).
    public struct Connections: Sendable {
        public var open: Int
        public var peak: Int
        public var accepted: Int
        public var refused: Int
    }

    public func stats() async throws -> (paths: [String: Int], queries: [(time: Double, path: String, query: String, token: Bool)]) {
        let (paths, queries, _) = try await fullStats()
        return (paths, queries)
    }

    public func connections() async throws -> Connections { try await fullStats().2 }

    private func fullStats() async throws -> ([String: Int], [(time: Double, path: String, query: String, token: Bool)], Connections) {
        var request = HTTPRequest(url: "\(controlAddress)/_fake/stats", timeout: .seconds(30))
        request.tls.caFile = certificate
        let r = try await client.execute(request)
        let doc = try JSONValue.parse(bytes: r.body)
        var paths: [String: Int] = [:]
        for (k, v) in doc["paths"]?.objectValue ?? [:] { paths[k] = v.intValue ?? 0 }
        let queries = (doc["queries"]?.arrayValue ?? []).compactMap { q -> (Double, String, String, Bool)? in
            guard let a = q.arrayValue, a.count == 4 else { return nil }
            return (a[0].doubleValue ?? 0, a[1].stringValue ?? "", a[2].stringValue ?? "", a[3].boolValue ?? false)
        }
        let c = doc["connections"]
        let conns = Connections(open: c?["open"]?.intValue ?? 0, peak: c?["peak"]?.intValue ?? 0,
                                accepted: c?["accepted"]?.intValue ?? 0, refused: c?["refused"]?.intValue ?? 0)
        return (paths, queries.map { (time: $0.0, path: $0.1, query: $0.2, token: $0.3) }, conns)
    }

    public func stop() {
        client.shutdown()
        server.stop()
        if let tempDirectory { try? FileManager.default.removeItem(at: tempDirectory) }
    }
}
