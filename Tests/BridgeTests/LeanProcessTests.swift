import Foundation
import HAProxyRuntime
import TestSupport
import XCTest

/// Issue 14: the daemon maps only what its config uses. libcurl (with its TLS, LDAP and Kerberos libraries, 5.6 MB
/// resident) is loaded when a provider first needs HTTP, and Foundation's ICU never is.
final class LeanProcessTests: XCTestCase {
    var dir: TemporaryDirectory!
    var haproxy: HAProxyInstance?
    var bridge: BridgeProcess?
    var consul: ConsulFake?

    override func setUp() async throws { dir = try TemporaryDirectory(prefix: "db-lean") }

    override func tearDown() async throws {
        bridge?.stop()
        consul?.stop()
        haproxy?.cleanup()
        dir.remove()
    }

    func mappedLibraries(_ pid: Int32) -> Set<String> {
        // /proc files report size 0: read to the end, not by the stat size.
        let handle = FileHandle(forReadingAtPath: "/proc/\(pid)/maps")
        defer { try? handle?.close() }
        let maps = String(decoding: handle?.readDataToEndOfFile() ?? Data(), as: UTF8.self)
        return Set(maps.split(separator: "\n").compactMap { $0.split(separator: " ", omittingEmptySubsequences: true).last.map(String.init) }
            .filter { $0.contains(".so") }.map { ($0 as NSString).lastPathComponent })
    }

    func run(providers: String, source: String) async throws -> BridgeProcess {
        let h = try await HAProxyInstance(backends: [.init(name: "web", slots: 2)])
        haproxy = h
        try """
        { "haproxy": { "runtime_api": "unix:\(h.socketPath)" }, "state_file": "\(dir.file("state.json"))",
          "providers": { \(providers) },
          "backends": [{ "name": "web", "slots": 2, "port": 8080, "server_options": "", "sources": [\(source)] }] }
        """.write(toFile: dir.file("config.json"), atomically: true, encoding: .utf8)
        let b = try BridgeProcess(config: dir.file("config.json"), logPath: dir.file("bridge.log"))
        bridge = b
        let client = RuntimeClient(endpoint: h.endpoint, timeout: .seconds(5))
        defer { client.close() }
        try await eventually("the instance ready in HAProxy", timeout: .seconds(10)) {
            try await client.showServersState(backend: "web").contains { $0.address == "10.0.0.7" && $0.adminState & 0x3B == 0 }
        }
        return b
    }

    func test_a_bridge_fed_by_the_file_provider_never_maps_libcurl_or_icu() async throws {
        try #"{"services": {"web": [{"id": "i1", "address": "10.0.0.7", "port": 8080}]}}"#.write(toFile: dir.file("instances.json"), atomically: true, encoding: .utf8)
        let b = try await run(providers: #""file": { "path": "\#(dir.file("instances.json"))" }"#, source: #"{ "provider": "file", "service": "web" }"#)
        let libraries = mappedLibraries(b.child.pid)
        XCTAssertFalse(libraries.isEmpty, "read /proc/PID/maps")
        XCTAssertFalse(libraries.contains { $0.hasPrefix("libcurl") }, "libcurl mapped without an HTTP provider: \(libraries.sorted())")
        XCTAssertFalse(libraries.contains { $0.contains("ICU") || $0.hasPrefix("libFoundation.so") || $0.contains("Internationalization") },
                       "Foundation/ICU mapped: \(libraries.sorted())")
    }

    func test_a_consul_provider_loads_libcurl_when_it_starts_and_works() async throws {
        let fake = try ConsulFake()
        consul = fake
        try await fake.control("register", ["service": .string("web"), "id": .string("web-1"), "node": .string("n1"),
                                            "address": .string("10.0.0.7"), "port": .int(8080)])
        let b = try await run(providers: #""consul": { "address": "\#(fake.address)" }"#, source: #"{ "provider": "consul", "service": "web" }"#)
        XCTAssertTrue(mappedLibraries(b.child.pid).contains { $0.hasPrefix("libcurl") }, "libcurl loaded for the Consul provider: \(mappedLibraries(b.child.pid).sorted())")
    }
}
