import DiscoveryCore
@testable import EC2Provider
import Foundation
import Logging
import TestSupport
import XCTest

/// End-to-end tests against a real moto_server (EC2 + STS), a fault-injecting proxy and an IMDSv2 fake.
final class MotoIntegrationTests: XCTestCase {
    var moto: Moto?
    var children: [ReportingProcess] = []
    var running: [RunningProvider] = []
    let logs = CapturingLogHandler.Store()
    var home = ""

    static let secret = "wJalrXUtnFEMI-very-secret-KEY"
    static let fileSecret = "file-secret-never-logged-9876"
    static let imdsSecret = "imds-secret-never-logged-5555"
    static let imdsToken = "imds-session-TOKEN-never-logged"

    override func setUp() async throws {
        moto = try Moto()
        home = NSTemporaryDirectory() + "ec2home-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
    }

    override func tearDown() async throws {
        for r in running { await r.stop() }
        running = []
        for c in children { c.stop() }
        children = []
        moto?.stop()
        moto = nil
        try? FileManager.default.removeItem(atPath: home)
        // Whatever happened, no secret may reach the logs.
        for line in logs.all {
            for s in [Self.secret, Self.fileSecret, Self.imdsSecret, Self.imdsToken] {
                XCTAssertFalse(line.contains(s), "secret leaked into log line: \(line)")
            }
        }
    }

    var motoEndpoint: String { moto?.endpoint ?? "http://127.0.0.1:1" }

    func baseEnvironment() -> [String: String] {
        ["AWS_ACCESS_KEY_ID": "AKIDTESTENV", "AWS_SECRET_ACCESS_KEY": Self.secret, "AWS_EC2_METADATA_DISABLED": "true", "HOME": home]
    }

    func logger() -> Logger {
        let store = logs
        var l = Logger(label: "ec2-test") { _ in CapturingLogHandler(store: store) }
        l.logLevel = .trace
        return l
    }

    func startProxy() throws -> (port: Int, url: String) {
        guard let moto else { throw TestSupportError("no moto") }
        let child = try ReportingProcess(name: "fault-proxy", executable: "python3", arguments: [fakesDirectory + "/fault_proxy.py", "\(moto.port)"])
        children.append(child)
        let port = try child.readPort()
        return (port, "http://127.0.0.1:\(port)")
    }

    func startProvider(_ config: [String: JSONValue], services: [String], env: [String: String]) throws -> RunningProvider {
        let sources = services.enumerated().map { SourceSpec(provider: "ec2", service: $1, path: "backends[\($0)].sources[0]") }
        let ctx = ProviderContext(environment: env, logger: logger(), configDirectory: home)
        let provider = try EC2ProviderFactory().makeProvider(config: .object(config), path: "providers.ec2", sources: sources, context: ctx)
        let r = RunningProvider(provider)
        running.append(r)
        return r
    }

    static func key(_ service: String) -> String { SourceSpec(provider: "ec2", service: service).key }

    struct ProxyLogEntry { var action: String; var auth: String; var token: Bool }

    func proxyLog(_ url: String) throws -> (requests: Int, entries: [ProxyLogEntry]) {
        let text = try control(url + "/__stats")
        guard let obj = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { throw TestSupportError("bad stats") }
        let entries = (obj["log"] as? [[String: Any]] ?? []).map {
            ProxyLogEntry(action: $0["action"] as? String ?? "", auth: $0["auth"] as? String ?? "", token: $0["token"] as? Bool ?? false)
        }
        return (obj["requests"] as? Int ?? 0, entries)
    }

    func describeIPs(_ region: String, _ ids: [String]) throws -> [String: (private: String, public: String)] {
        let out = try moto?.seed([["op": "describe", "region": region, "ids": ids]]).first?["instances"] as? [[String: Any]] ?? []
        var m: [String: (private: String, public: String)] = [:]
        for i in out { m[i["id"] as? String ?? ""] = (i["private_ip"] as? String ?? "", i["public_ip"] as? String ?? "") }
        return m
    }

    // MARK: - Tests

    func testPublishesTaggedInstancesAndFollowsStateChanges() async throws {
        let moto = try XCTUnwrap(moto)
        let web = try moto.run(region: "us-east-1", reservations: 1, count: 3,
                               tags: ["HAProxy:Service:Name": "web", "HAProxy:Service:Port": "8081", "HAProxy:Server:Weight": "20"])
        let local = try moto.run(region: "us-east-1", tags: ["HAProxy:Service:Name": "web"], privateIP: "127.0.0.1")
        let api = try moto.run(region: "us-east-1", tags: ["HAProxy:Service:Name": "api", "HAProxy:Service:Port": "9000"])
        _ = try moto.run(region: "us-east-1", tags: ["Name": "untagged"])
        _ = try moto.run(region: "us-east-1", tags: ["HAProxy:Service:Name": "other"])
        let ips = try describeIPs("us-east-1", web + local + api)
        let proxy = try startProxy()

        let r = try startProvider([
            "regions": .array([.string("us-east-1")]), "endpoint": .string(proxy.url), "refresh_interval": .string("300ms"), "timeout": .string("5s"),
        ], services: ["web", "api"], env: baseEnvironment())
        await waitUntil(20, "first publish") { await r.sink.last != nil }
        let lastUpdate = await r.sink.last
        let first = try XCTUnwrap(lastUpdate)
        let webInstances = first.sources[Self.key("web")] ?? []
        XCTAssertEqual(Set(webInstances.map(\.id)), Set(web + local))
        for i in webInstances {
            XCTAssertEqual(i.address, ips[i.id]?.private, "private address of \(i.id)")
            XCTAssertEqual(i.health, .passing)
            if web.contains(i.id) {
                XCTAssertEqual(i.port, 8081)
                XCTAssertEqual(i.weight, 20)
            } else {
                XCTAssertEqual(i.address, "127.0.0.1")
                XCTAssertNil(i.port, "no port tag: the backend's port is used")
                XCTAssertNil(i.weight)
            }
            XCTAssertEqual(i.meta["HAProxy:Service:Name"], "web")
        }
        XCTAssertEqual(first.sources[Self.key("api")]?.map(\.id), api)
        XCTAssertEqual(first.sources[Self.key("api")]?.first?.port, 9000)

        // One request per refresh for both services, signed the SigV4 way (moto does not verify signatures, so check the form).
        let log = try proxyLog(proxy.url)
        let auth = try XCTUnwrap(log.entries.first?.auth)
        let pattern = #"^AWS4-HMAC-SHA256 Credential=AKIDTESTENV/\d{8}/us-east-1/ec2/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$"#
        XCTAssertNotNil(auth.range(of: pattern, options: .regularExpression), "Authorization header: \(auth)")
        XCTAssertFalse(log.entries.contains { $0.token }, "long-lived keys send no session token")

        // Steady state: no republish when nothing changed, but successes keep coming.
        let updatesBefore = await r.sink.updates.count
        let successesBefore = await r.sink.successes
        await waitUntil(10, "more successful refreshes") { await r.sink.successes >= successesBefore + 3 }
        let updatesAfter = await r.sink.updates.count
        XCTAssertEqual(updatesAfter, updatesBefore, "unchanged instances are not republished")
        let perRefresh = try proxyLog(proxy.url)
        XCTAssertEqual(perRefresh.entries.filter { $0.action == "DescribeInstances" }.count, perRefresh.requests)

        // Stop one, terminate another: both disappear.
        try moto.seed([["op": "stop", "region": "us-east-1", "ids": [web[0]]], ["op": "terminate", "region": "us-east-1", "ids": [web[1]]]])
        await waitUntil(20, "stopped/terminated instances removed") {
            let ids = Set((await r.sink.last?.sources[Self.key("web")] ?? []).map(\.id))
            return ids == Set([web[2]] + local)
        }
        // The drain tag turns an instance critical.
        try moto.seed([["op": "tag", "region": "us-east-1", "ids": [web[2]], "tags": ["HAProxy:Drain": "true"]]])
        await waitUntil(20, "drain tag → critical") {
            await r.sink.last?.sources[Self.key("web")]?.first { $0.id == web[2] }?.health == .critical
        }
        let failures = await r.sink.failures
        XCTAssertEqual(failures, [])
    }

    func testTwoRegionsAndPublicAddresses() async throws {
        let moto = try XCTUnwrap(moto)
        let east = try moto.run(region: "us-east-1", count: 2, tags: ["HAProxy:Service:Name": "web"])
        let west = try moto.run(region: "eu-west-1", count: 1, tags: ["HAProxy:Service:Name": "web"])
        let eastIPs = try describeIPs("us-east-1", east)
        let westIPs = try describeIPs("eu-west-1", west)
        let proxy = try startProxy()
        let r = try startProvider([
            "regions": .array([.string("us-east-1"), .string("eu-west-1")]), "endpoint": .string(proxy.url),
            "refresh_interval": .string("500ms"), "address": .string("public"),
        ], services: ["web"], env: baseEnvironment())
        await waitUntil(20, "publish") { await r.sink.last != nil }
        let got = await r.sink.last?.sources[Self.key("web")] ?? []
        var expected: [String: String] = [:]
        for id in east { expected["us-east-1/\(id)"] = eastIPs[id]?.public }
        for id in west { expected["eu-west-1/\(id)"] = westIPs[id]?.public }
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: got.map { ($0.id, $0.address) }), expected)
        XCTAssertFalse(expected.values.contains(""), "moto gave every instance a public address")
        let log = try proxyLog(proxy.url)
        XCTAssertTrue(log.entries.contains { $0.auth.contains("/eu-west-1/ec2/aws4_request") })
        XCTAssertTrue(log.entries.contains { $0.auth.contains("/us-east-1/ec2/aws4_request") })
    }

    func testPaginationOver1100Instances() async throws {
        let moto = try XCTUnwrap(moto)
        // moto pages by reservation, so 1100 reservations of one instance each.
        let ids = try moto.run(region: "us-east-1", reservations: 1100, count: 1, tags: ["HAProxy:Service:Name": "web"])
        XCTAssertEqual(ids.count, 1100)
        let proxy = try startProxy()
        let r = try startProvider([
            "regions": .array([.string("us-east-1")]), "endpoint": .string(proxy.url), "refresh_interval": .string("60s"), "timeout": .string("30s"),
        ], services: ["web"], env: baseEnvironment())
        await waitUntil(60, "publish of 1100") { await r.sink.last != nil }
        let got = await r.sink.last?.sources[Self.key("web")] ?? []
        XCTAssertEqual(Set(got.map(\.id)), Set(ids))
        let log = try proxyLog(proxy.url)
        XCTAssertEqual(log.requests, 2, "1100 reservations at MaxResults=1000: two pages, one refresh")
        print("ec2 pagination: \(got.count) instances in \(log.requests) requests per refresh")
    }

    /// Prints the time to discover and parse 5,000 instances; never asserts on time.
    ///
    /// Opt-in (`EC2_BENCH=1`): seeding 5,000 instances into moto takes over a minute and moto needs ~45 s to
    /// answer the filtered query, which says more about moto than about the provider.
    func testBenchmarkDiscover5000Instances() async throws {
        guard ProcessInfo.processInfo.environment["EC2_BENCH"] == "1" else { throw XCTSkip("set EC2_BENCH=1 to run the 5,000-instance benchmark") }
        let moto = try XCTUnwrap(moto)
        let seedStart = Date()
        let ids = try moto.run(region: "us-east-1", reservations: 500, count: 10,
                               tags: ["HAProxy:Service:Name": "web", "HAProxy:Service:Port": "8080"])
        XCTAssertEqual(ids.count, 5000)
        print("ec2 benchmark: seeding 5000 instances took \(String(format: "%.1f", Date().timeIntervalSince(seedStart)))s")
        let proxy = try startProxy()
        let started = ContinuousClock.now
        let r = try startProvider([
            "regions": .array([.string("us-east-1")]), "endpoint": .string(proxy.url), "refresh_interval": .string("10m"), "timeout": .string("5m"),
        ], services: ["web"], env: baseEnvironment())
        await waitUntil(400, "publish of 5000") {
            let s = await r.sink.snapshot()
            return s.updates > 0 || !s.failures.isEmpty
        }
        let discover = ContinuousClock.now - started
        let failures = await r.sink.failures
        XCTAssertEqual(failures, [])
        let got = await r.sink.last?.sources[Self.key("web")] ?? []
        XCTAssertEqual(got.count, 5000)
        let log = try proxyLog(proxy.url)

        // Parse and map alone, on the same XML, several times.
        let body = try runTool("curl", ["-sS", "--max-time", "300", "--aws-sigv4", "aws:amz:us-east-1:ec2", "--user", "AKIDBENCH:x",
                                        "-H", "Content-Type: application/x-www-form-urlencoded; charset=utf-8",
                                        "--data", "Action=DescribeInstances&Version=2016-11-15&MaxResults=1000", motoEndpoint + "/"], timeout: 320)
        let bytes = Array(body.utf8)
        var best = Duration.seconds(1000)
        var count = 0
        for _ in 0..<3 {
            let t0 = ContinuousClock.now
            let page = try EC2XML.describeInstances(bytes)
            var warnings: [EC2Mapper.Warning] = []
            let mapped = EC2Mapper(serviceTag: "HAProxy:Service:Name", portTag: "HAProxy:Service:Port", weightTag: "W", address: .private)
                .group([(region: "us-east-1", instances: page.instances)], services: ["web"], warnings: &warnings)
            best = min(best, ContinuousClock.now - t0)
            count = mapped["web"]?.count ?? 0
        }
        print("ec2 benchmark: discover+parse+map 5000 instances from moto: \(discover) in \(log.requests) request(s) per refresh; "
              + "parse+map only (best of 3): \(best) for \(bytes.count / 1024) KiB, \(count) instances")
    }

    func testCredentialsFromSharedFileProfile() async throws {
        let moto = try XCTUnwrap(moto)
        _ = try moto.run(region: "us-east-1", tags: ["HAProxy:Service:Name": "web"])
        try FileManager.default.createDirectory(atPath: home + "/.aws", withIntermediateDirectories: true)
        try """
        [default]
        aws_access_key_id = AKIDDEFAULTFILE
        aws_secret_access_key = \(Self.fileSecret)
        [dev]
        aws_access_key_id = AKIDDEVFILE
        aws_secret_access_key = \(Self.fileSecret)
        """.write(toFile: home + "/.aws/credentials", atomically: true, encoding: .utf8)
        try """
        [profile cfg]
        aws_access_key_id = AKIDCONFIGFILE
        aws_secret_access_key = \(Self.fileSecret)
        """.write(toFile: home + "/.aws/config", atomically: true, encoding: .utf8)
        let proxy = try startProxy()
        let env = ["HOME": home, "AWS_PROFILE": "dev", "AWS_EC2_METADATA_DISABLED": "true", "AWS_REGION": "us-east-1"]
        let r1 = try startProvider(["endpoint": .string(proxy.url), "refresh_interval": .string("10s")], services: ["web"], env: env)
        await waitUntil(20, "publish with AWS_PROFILE=dev") { await r1.sink.last != nil }
        XCTAssertTrue(try proxyLog(proxy.url).entries.allSatisfy { $0.auth.contains("Credential=AKIDDEVFILE/") })
        await r1.stop()

        _ = try control(proxy.url + "/__reset", method: "POST")
        let r2 = try startProvider(["endpoint": .string(proxy.url), "refresh_interval": .string("10s"),
                                    "credentials": .object(["profile": .string("cfg")])], services: ["web"], env: env)
        await waitUntil(20, "publish with profile cfg from the config file") { await r2.sink.last != nil }
        XCTAssertTrue(try proxyLog(proxy.url).entries.allSatisfy { $0.auth.contains("Credential=AKIDCONFIGFILE/") })
        XCTAssertTrue(logs.all.contains { $0.contains("profile:cfg") }, "the credential source is logged (redacted)")
    }

    func testCredentialsAndRegionFromIMDSv2() async throws {
        let moto = try XCTUnwrap(moto)
        let ids = try moto.run(region: "eu-central-1", tags: ["HAProxy:Service:Name": "web"])
        let imds = try ReportingProcess(name: "imds", executable: "python3",
                                    arguments: [fakesDirectory + "/imds_fake.py", "ASIAIMDSKEY", Self.imdsSecret, Self.imdsToken, "eu-central-1"])
        children.append(imds)
        let imdsURL = "http://127.0.0.1:\(try imds.readPort())"
        // The fake refuses IMDSv1 (no token).
        XCTAssertEqual(try runTool("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
                                            imdsURL + "/latest/meta-data/iam/security-credentials/"], timeout: 10), "401")
        let proxy = try startProxy()
        let r = try startProvider(["endpoint": .string(proxy.url), "imds_endpoint": .string(imdsURL), "refresh_interval": .string("10s")],
                                  services: ["web"], env: ["HOME": home])
        await waitUntil(20, "publish with IMDS credentials") { await r.sink.last != nil }
        let published = await r.sink.last?.sources[Self.key("web")]?.map(\.id)
        XCTAssertEqual(published, ids, "region eu-central-1 came from IMDS")
        let log = try proxyLog(proxy.url)
        XCTAssertTrue(log.entries.allSatisfy { $0.auth.contains("Credential=ASIAIMDSKEY/") && $0.auth.contains("/eu-central-1/ec2/") && $0.token },
                      "IMDS role credentials with their session token")
        let stats = try JSONSerialization.jsonObject(with: Data(try control(imdsURL + "/__stats").utf8)) as? [String: Int]
        XCTAssertGreaterThanOrEqual(stats?["token_puts"] ?? 0, 1)
        XCTAssertEqual(stats?["unauthorized"], 1, "only the test's own IMDSv1 probe was refused")
        XCTAssertEqual(stats?["credential_gets"], 1, "credentials are cached until near expiry")
    }

    func testIMDSCredentialsNearExpiryAreRefreshed() async throws {
        let moto = try XCTUnwrap(moto)
        _ = try moto.run(region: "us-east-1", tags: ["HAProxy:Service:Name": "web"])
        // Expires in 4 minutes: inside the 5-minute refresh margin, so every refresh fetches again.
        let soon = Date().addingTimeInterval(240)
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd'T'HH:mm:ss'Z'"
        let imds = try ReportingProcess(name: "imds", executable: "python3",
                                    arguments: [fakesDirectory + "/imds_fake.py", "ASIAIMDSKEY", Self.imdsSecret, Self.imdsToken, "us-east-1", f.string(from: soon)])
        children.append(imds)
        let imdsURL = "http://127.0.0.1:\(try imds.readPort())"
        let r = try startProvider(["regions": .array([.string("us-east-1")]), "endpoint": .string(motoEndpoint),
                                   "imds_endpoint": .string(imdsURL), "refresh_interval": .string("200ms")],
                                  services: ["web"], env: ["HOME": home])
        await waitUntil(20, "several refreshes") { await r.sink.successes >= 4 }
        let stats = try JSONSerialization.jsonObject(with: Data(try control(imdsURL + "/__stats").utf8)) as? [String: Int]
        XCTAssertGreaterThanOrEqual(stats?["credential_gets"] ?? 0, 3, "credentials close to expiry are fetched again")
    }

    func testAssumeRoleThroughMotoSTS() async throws {
        let moto = try XCTUnwrap(moto)
        _ = try moto.run(region: "us-east-1", tags: ["HAProxy:Service:Name": "web"])
        let proxy = try startProxy()
        let r = try startProvider([
            "regions": .array([.string("us-east-1")]), "endpoint": .string(proxy.url), "sts_endpoint": .string(proxy.url),
            "refresh_interval": .string("300ms"),
            "credentials": .object(["role_arn": .string("arn:aws:iam::123456789012:role/discovery"), "external_id": .string("ext-1")]),
        ], services: ["web"], env: baseEnvironment())
        await waitUntil(20, "publish with assumed role") { await r.sink.last != nil }
        await waitUntil(10, "a few refreshes") { await r.sink.successes >= 3 }
        let log = try proxyLog(proxy.url)
        let assume = log.entries.filter { $0.action == "AssumeRole" }
        XCTAssertEqual(assume.count, 1, "the role credentials are cached")
        XCTAssertTrue(assume.first?.auth.contains("Credential=AKIDTESTENV/") == true && assume.first?.auth.contains("/sts/aws4_request") == true)
        let describes = log.entries.filter { $0.action == "DescribeInstances" }
        XCTAssertFalse(describes.isEmpty)
        XCTAssertTrue(describes.allSatisfy { !$0.auth.contains("AKIDTESTENV") && $0.token }, "EC2 is called with the role's session credentials")
        XCTAssertTrue(describes.allSatisfy { $0.auth.contains("x-amz-security-token") }, "the session token is part of the signed headers")
        XCTAssertTrue(logs.all.contains { $0.contains("sts-assume-role") })
    }

    func testThrottlingServerErrorsAndGarbageKeepLastSnapshotThenRecover() async throws {
        let moto = try XCTUnwrap(moto)
        let ids = try moto.run(region: "us-east-1", count: 2, tags: ["HAProxy:Service:Name": "web"])
        let proxy = try startProxy()
        let r = try startProvider([
            "regions": .array([.string("us-east-1")]), "endpoint": .string(proxy.url), "refresh_interval": .string("200ms"), "timeout": .string("5s"),
        ], services: ["web"], env: baseEnvironment())
        await waitUntil(20, "first publish") { await r.sink.last != nil }
        var expected = Set(ids)
        for (n, kind) in ["throttle", "500", "garbage"].enumerated() {
            _ = try control(proxy.url + "/__fault?kind=\(kind)&count=1000", method: "POST")
            let failuresBefore = await r.sink.failures.count
            let updatesBefore = await r.sink.updates.count
            await waitUntil(30, "failure reported for \(kind)") { await r.sink.failures.count > failuresBefore }
            // Change the world while the API fails: nothing may be published.
            let new = try moto.run(region: "us-east-1", tags: ["HAProxy:Service:Name": "web"])
            expected.formUnion(new)
            try await Task.sleep(for: .milliseconds(500))
            let updatesDuring = await r.sink.updates.count
            XCTAssertEqual(updatesDuring, updatesBefore, "\(kind): nothing published while failing")
            let lastError = await r.sink.failures.last ?? ""
            switch kind {
            case "throttle": XCTAssertTrue(lastError.contains("RequestLimitExceeded"), lastError)
            case "500": XCTAssertTrue(lastError.contains("InternalError"), lastError)
            default: XCTAssertTrue(lastError.contains("not XML") || lastError.contains("expected <DescribeInstancesResponse>"), lastError)
            }
            _ = try control(proxy.url + "/__fault?kind=none&count=0", method: "POST")
            await waitUntil(30, "recovery \(n) after \(kind)") {
                Set((await r.sink.last?.sources[Self.key("web")] ?? []).map(\.id)) == expected
            }
        }
    }

    func testAuthFailureRefreshesCredentialsOnceThenReports() async throws {
        let moto = try XCTUnwrap(moto)
        _ = try moto.run(region: "us-east-1", tags: ["HAProxy:Service:Name": "web"])
        let proxy = try startProxy()
        _ = try control(proxy.url + "/__fault?kind=auth&count=1", method: "POST")
        let r = try startProvider([
            "regions": .array([.string("us-east-1")]), "endpoint": .string(proxy.url), "refresh_interval": .string("300ms"),
        ], services: ["web"], env: baseEnvironment())
        await waitUntil(20, "publish after one AuthFailure") { await r.sink.last != nil }
        let early = await r.sink.failures
        XCTAssertEqual(early, [], "a single AuthFailure is retried with fresh credentials")
        _ = try control(proxy.url + "/__fault?kind=auth&count=1000", method: "POST")
        await waitUntil(20, "persistent AuthFailure reported") { await r.sink.failures.contains { $0.contains("AuthFailure") } }
    }
}
