import DiscoveryCore
@testable import EC2Provider
import Foundation
import Logging
import TestSupport
import XCTest

final class XMLParsingTests: XCTestCase {
    static let sample = """
    <?xml version="1.0" encoding="UTF-8"?>
    <DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
      <requestId>abc</requestId>
      <reservationSet>
        <item>
          <reservationId>r-1</reservationId>
          <instancesSet>
            <item>
              <instanceId>i-0001</instanceId>
              <instanceState><code>16</code><name>running</name></instanceState>
              <privateIpAddress>10.0.0.1</privateIpAddress>
              <ipAddress>54.1.2.3</ipAddress>
              <instanceType>t3.micro</instanceType>
              <placement><availabilityZone>eu-west-1a</availabilityZone></placement>
              <networkInterfaceSet>
                <item><attachment><deviceIndex>1</deviceIndex></attachment>
                  <ipv6AddressesSet><item><ipv6Address>2001:db8::99</ipv6Address></item></ipv6AddressesSet></item>
                <item><attachment><deviceIndex>0</deviceIndex></attachment>
                  <ipv6AddressesSet><item><ipv6Address>2001:db8::1</ipv6Address></item></ipv6AddressesSet></item>
              </networkInterfaceSet>
              <tagSet>
                <item><key>HAProxy:Service:Name</key><value>web</value></item>
                <item><key>HAProxy:Service:Port</key><value>8080</value></item>
                <item><key>Note</key><value>a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#233;&#x263A;</value></item>
                <item><key>Empty</key><value/></item>
              </tagSet>
            </item>
            <item>
              <instanceId>i-0002</instanceId>
              <instanceState><code>80</code><name>stopped</name></instanceState>
              <instanceLifecycle>spot</instanceLifecycle>
            </item>
          </instancesSet>
        </item>
      </reservationSet>
      <nextToken>tok&amp;1</nextToken>
    </DescribeInstancesResponse>
    """

    func testDescribeInstances() throws {
        let page = try EC2XML.describeInstances(Array(Self.sample.utf8))
        XCTAssertEqual(page.nextToken, "tok&1")
        XCTAssertEqual(page.instances.count, 2)
        let a = page.instances[0]
        XCTAssertEqual(a.instanceID, "i-0001")
        XCTAssertEqual(a.state, "running")
        XCTAssertEqual(a.privateIPv4, "10.0.0.1")
        XCTAssertEqual(a.publicIPv4, "54.1.2.3")
        XCTAssertEqual(a.ipv6, ["2001:db8::1"], "IPv6 of the primary interface (device index 0)")
        XCTAssertEqual(a.availabilityZone, "eu-west-1a")
        XCTAssertEqual(a.tags["Note"], "a & b <c> \"d\" 'e' é☺")
        XCTAssertEqual(a.tags["Empty"], "")
        XCTAssertEqual(page.instances[1].instanceLifecycle, "spot")
        XCTAssertNil(page.instances[1].privateIPv4)
    }

    func testEmptyAnswerHasNoToken() throws {
        let page = try EC2XML.describeInstances(Array("<DescribeInstancesResponse><reservationSet/></DescribeInstancesResponse>".utf8))
        XCTAssertEqual(page.instances, [])
        XCTAssertNil(page.nextToken)
    }

    func testGarbageIsRejected() {
        let bad = [
            "", "   ", "not xml", "<a>", "<a></b>", "<a><b></a>", "<a>&bogus;</a>", "<a>&#0;</a>", "<a x=1></a>",
            "<!DOCTYPE x [<!ENTITY e 'x'>]><a/>", "<a/><b/>", "<a><![CDATA[x</a>", "<a>&amp</a>",
            "<html><body>Bad gateway</body></html>", "{\"json\": true}", "<a><!-- unterminated </a>",
        ]
        for text in bad {
            XCTAssertThrowsError(try EC2XML.describeInstances(Array(text.utf8)), "accepted: \(text)") { error in
                guard case EC2Error.malformed = error else { return XCTFail("wrong error \(error) for \(text)") }
            }
        }
        // Random bytes never crash.
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let n = Int.random(in: 0..<200, using: &rng)
            var bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if Bool.random() { bytes = Array("<a><b>".utf8) + bytes }
            _ = try? XMLTree.parse(bytes)
        }
        // Deep nesting is refused, not a stack overflow.
        let deep = String(repeating: "<a>", count: 10_000) + String(repeating: "</a>", count: 10_000)
        XCTAssertThrowsError(try XMLTree.parse(deep))
    }

    func testXMLFeatures() throws {
        let doc = try XMLTree.parse("<?xml version='1.0'?><!-- c --><p:r xmlns:p='u' a=\"1\"><x><![CDATA[<raw>&]]></x><?pi?><y/></p:r>")
        XCTAssertEqual(doc.name, "r")
        XCTAssertEqual(doc.child("x")?.text, "<raw>&")
        XCTAssertNotNil(doc.child("y"))
    }

    func testErrorDocuments() {
        let ec2 = "<?xml version=\"1.0\"?><Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>x</RequestID></Response>"
        XCTAssertEqual(EC2XML.apiError(Array(ec2.utf8)), AWSAPIErrorBody(code: "RequestLimitExceeded", message: "Request limit exceeded."))
        let sts = "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>no</Message></Error></ErrorResponse>"
        XCTAssertEqual(EC2XML.apiError(Array(sts.utf8))?.code, "AccessDenied")
        XCTAssertNil(EC2XML.apiError(Array("garbage".utf8)))
        XCTAssertTrue(EC2Error.api(status: 503, code: "RequestLimitExceeded", message: "").isRetryable)
        XCTAssertTrue(EC2Error.api(status: 500, code: "", message: "").isRetryable)
        XCTAssertTrue(EC2Error.api(status: 401, code: "AuthFailure", message: "").isAuthFailure)
        XCTAssertFalse(EC2Error.api(status: 400, code: "InvalidParameterValue", message: "").isRetryable)
    }

    func testAssumeRoleAnswer() throws {
        let xml = """
        <AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials>
        <AccessKeyId>ASIAEXAMPLE</AccessKeyId><SecretAccessKey>s3cr3t</SecretAccessKey><SessionToken>tok</SessionToken>
        <Expiration>2030-01-02T03:04:05.000Z</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>
        """
        let c = try EC2XML.assumeRole(Array(xml.utf8))
        XCTAssertEqual(c.accessKeyID, "ASIAEXAMPLE")
        XCTAssertEqual(c.sessionToken, "tok")
        XCTAssertEqual(c.expiration, 1_893_553_445)
        XCTAssertFalse(c.description.contains("s3cr3t"))
        XCTAssertFalse(c.description.contains("tok)"))
    }

    func testISO8601() {
        XCTAssertEqual(ISO8601.parse("1970-01-01T00:00:00Z"), 0)
        XCTAssertEqual(ISO8601.parse("2000-03-01T00:00:00Z"), 951_868_800)
        XCTAssertEqual(ISO8601.parse("2000-03-01T01:00:00+01:00"), 951_868_800)
        XCTAssertNil(ISO8601.parse("yesterday"))
        XCTAssertNil(ISO8601.parse("2000-13-01T00:00:00Z"))
    }

    func testQueryEncoding() {
        XCTAssertEqual(QueryEncoding.form([("Filter.1.Name", "tag:HAProxy:Service:Name"), ("v", "a b/+=&~")]),
                       "Filter.1.Name=tag%3AHAProxy%3AService%3AName&v=a%20b%2F%2B%3D%26~")
    }
}

final class INIAndConfigTests: XCTestCase {
    func testINI() {
        let ini = INIFile.parse("""
        # comment
        [default]
        aws_access_key_id = AKIADEFAULT
        aws_secret_access_key=secret1 ; trailing comment
        [profile dev]
        region = eu-west-1
        s3 =
          max_concurrent_requests = 10
        [ spaced ]
        Key = v=with=equals
        """)
        XCTAssertEqual(ini.sections["default"]?["aws_access_key_id"], "AKIADEFAULT")
        XCTAssertEqual(ini.sections["default"]?["aws_secret_access_key"], "secret1")
        XCTAssertEqual(ini.sections["profile dev"]?["region"], "eu-west-1")
        XCTAssertNil(ini.sections["profile dev"]?["max_concurrent_requests"])
        XCTAssertEqual(ini.sections["spaced"]?["key"], "v=with=equals")
    }

    func parse(_ json: String) throws(ConfigError) -> EC2Config {
        guard let v = try? JSONValue.parse(json) else { XCTFail("bad JSON in test"); return EC2Config() }
        return try EC2Config.parse(v, path: "providers.ec2", configDirectory: "/tmp")
    }

    func testDefaults() throws {
        let c = try parse("{}")
        XCTAssertEqual(c.regions, [])
        XCTAssertEqual(c.refreshInterval, .seconds(30))
        XCTAssertEqual(c.serviceTag, "HAProxy:Service:Name")
        XCTAssertEqual(c.portTag, "HAProxy:Service:Port")
        XCTAssertEqual(c.weightTag, "HAProxy:Server:Weight")
        XCTAssertEqual(c.address, .private)
        XCTAssertEqual(c.imdsEndpoint, "http://169.254.169.254")
        XCTAssertEqual(c.timeout, .seconds(10))
        XCTAssertEqual(c.ec2Endpoint(region: "eu-west-1"), "https://ec2.eu-west-1.amazonaws.com")
    }

    func testFullConfig() throws {
        let c = try parse("""
        {"regions": ["eu-west-1", "us-east-1"], "endpoint": "http://127.0.0.1:5000/{region}/", "refresh_interval": "1m",
         "credentials": {"access_key_id": "AKIA", "secret_access_key": "sek", "role_arn": "arn:aws:iam::1:role/x", "external_id": "e"},
         "service_tag": "svc", "port_tag": "port", "weight_tag": "w", "address": "ipv6",
         "filters": {"tag:env": ["prod"], "vpc-id": ["vpc-1", "vpc-2"]}, "imds_endpoint": "http://127.0.0.1:1/",
         "sts_endpoint": "http://127.0.0.1:5000", "timeout": "3s"}
        """)
        XCTAssertEqual(c.regions, ["eu-west-1", "us-east-1"])
        XCTAssertEqual(c.ec2Endpoint(region: "us-east-1"), "http://127.0.0.1:5000/us-east-1")
        XCTAssertEqual(c.address, .ipv6)
        XCTAssertEqual(c.filters["vpc-id"], ["vpc-1", "vpc-2"])
        XCTAssertEqual(c.imdsEndpoint, "http://127.0.0.1:1")
        XCTAssertFalse(c.credentials.description.contains("sek"))
        XCTAssertFalse("\(c)".contains("sek"), "the whole config prints no secret")
        XCTAssertFalse(String(reflecting: c).contains("sek"))
        let signing = AWSSigning(region: "r", service: "ec2", credentials: AWSCredentials(accessKeyID: "AKIAXYZ1234", secretAccessKey: "sek", sessionToken: "toksek", source: "t"))
        XCTAssertFalse("\(signing)".contains("sek"))
        XCTAssertFalse("\(AWSRequest(method: "GET", url: "u", timeout: .seconds(1), signing: signing))".contains("sek"))
        XCTAssertEqual(c.credentials.roleARN, "arn:aws:iam::1:role/x")
    }

    func testErrorsNameThePath() {
        let cases: [(String, String)] = [
            ("{\"regionz\": []}", "providers.ec2.regionz"),
            ("{\"regions\": \"eu-west-1\"}", "providers.ec2.regions"),
            ("{\"regions\": [\"eu-west-1\", 3]}", "providers.ec2.regions[1]"),
            ("{\"regions\": [\"EU WEST\"]}", "providers.ec2.regions[0]"),
            ("{\"refresh_interval\": 30}", "providers.ec2.refresh_interval"),
            ("{\"address\": \"elastic\"}", "providers.ec2.address"),
            ("{\"credentials\": {\"access_key_id\": \"a\"}}", "providers.ec2.credentials.secret_access_key"),
            ("{\"credentials\": {\"secret\": \"a\"}}", "providers.ec2.credentials.secret"),
            ("{\"credentials\": {\"secret_access_key_file\": \"/nonexistent/x\", \"access_key_id\": \"a\"}}", "providers.ec2.credentials.secret_access_key_file"),
            ("{\"filters\": {\"tag:env\": \"prod\"}}", "providers.ec2.filters.tag:env"),
            ("{\"filters\": {\"instance-state-name\": [\"stopped\"]}}", "providers.ec2.filters.instance-state-name"),
            ("{\"endpoint\": \"localhost:5000\"}", "providers.ec2.endpoint"),
            ("{\"timeout\": \"forever\"}", "providers.ec2.timeout"),
            ("[]", "providers.ec2"),
        ]
        for (json, path) in cases {
            do {
                _ = try parse(json)
                XCTFail("accepted \(json)")
            } catch {
                XCTAssertEqual(error.path, path, "for \(json): \(error)")
            }
        }
    }

    func testSourcesAndFactoryValidation() {
        let factory = EC2ProviderFactory()
        let ctx = ProviderContext(environment: [:], logger: .init(label: "t"), configDirectory: "/tmp")
        let bad = SourceSpec(provider: "ec2", service: "web", options: ["tag": .string("x")], path: "backends[0].sources[0]")
        XCTAssertThrowsError(try factory.makeProvider(config: .object([:]), path: "providers.ec2", sources: [bad], context: ctx)) { e in
            XCTAssertEqual((e as? ConfigError)?.path, "backends[0].sources[0].tag")
        }
        let good = SourceSpec(provider: "ec2", service: "web", path: "backends[0].sources[0]")
        XCTAssertNoThrow(try factory.makeProvider(config: .object(["refresh_interval": .string("10s"), "timeout": .string("2s")]),
                                                 path: "providers.ec2", sources: [good], context: ctx))
        if let p = try? factory.makeProvider(config: .object(["refresh_interval": .string("10s"), "timeout": .string("2s")]),
                                             path: "providers.ec2", sources: [good], context: ctx) {
            XCTAssertEqual(p.stalenessLimit, .seconds(32))
            XCTAssertEqual(p.name, "ec2")
        }
    }
}

final class MappingTests: XCTestCase {
    let mapper = EC2Mapper(serviceTag: "S", portTag: "P", weightTag: "W", address: .private)

    func inst(_ id: String, _ state: String = "running", ip: String? = "10.0.0.1", tags: [String: String] = [:], lifecycle: String? = nil) -> EC2Instance {
        var t = ["S": "web"]
        t.merge(tags) { _, b in b }
        return EC2Instance(instanceID: id, state: state, privateIPv4: ip, publicIPv4: "54.0.0.1", ipv6: ["2001:db8::5"], instanceLifecycle: lifecycle, tags: t)
    }

    func testStatesAndTags() {
        var w: [EC2Mapper.Warning] = []
        let out = mapper.group([(region: "r1", instances: [
            inst("i-1", tags: ["P": "8080", "W": "50"]),
            inst("i-2", "pending"),
            inst("i-3", "stopping"),
            inst("i-4", "stopped"),
            inst("i-5", "terminated"),
            inst("i-6", tags: ["HAProxy:Drain": "true"]),
            inst("i-7", tags: ["HAProxy:Lifecycle:State": "Terminating:Wait"]),
            inst("i-8", tags: ["HAProxy:Spot:Interruption": "2030-01-01T00:00:00Z"], lifecycle: "spot"),
            inst("i-9", tags: ["W": "1000", "P": "http"]),
            inst("i-10", ip: nil),
            inst("i-11", tags: ["S": "other"]),
        ])], services: ["web", "api"], warnings: &w)
        XCTAssertEqual(out["api"], [])
        let web = out["web"] ?? []
        XCTAssertEqual(web.map(\.id), ["i-1", "i-3", "i-6", "i-7", "i-8", "i-9"])
        let byID = Dictionary(uniqueKeysWithValues: web.map { ($0.id, $0) })
        XCTAssertEqual(byID["i-1"]?.port, 8080)
        XCTAssertEqual(byID["i-1"]?.weight, 50)
        XCTAssertEqual(byID["i-1"]?.health, .passing)
        XCTAssertEqual(byID["i-1"]?.meta["P"], "8080")
        XCTAssertEqual(byID["i-1"]?.meta["ec2.region"], "r1")
        XCTAssertEqual(byID["i-3"]?.health, .critical)
        XCTAssertEqual(byID["i-6"]?.health, .critical)
        XCTAssertEqual(byID["i-7"]?.health, .critical)
        XCTAssertEqual(byID["i-8"]?.health, .critical)
        XCTAssertEqual(byID["i-9"]?.weight, 256)
        XCTAssertNil(byID["i-9"]?.port)
        XCTAssertEqual(Set(w.map(\.instanceID)), ["i-9", "i-10"])
    }

    func testAddressKindsAndRegionPrefix() {
        var w: [EC2Mapper.Warning] = []
        var m = mapper
        m.address = .public
        XCTAssertEqual(m.map(inst("i-1"), region: "r", prefixRegion: true, warnings: &w)?.address, "54.0.0.1")
        XCTAssertEqual(m.map(inst("i-1"), region: "r", prefixRegion: true, warnings: &w)?.id, "r/i-1")
        m.address = .ipv6
        XCTAssertEqual(m.map(inst("i-1"), region: "r", prefixRegion: false, warnings: &w)?.address, "2001:db8::5")
        XCTAssertEqual(w, [])
    }
}

/// A transport that must not be used (the chain should stop before IMDS).
struct NoNetwork: AWSTransport {
    func send(_ request: AWSRequest) async throws(EC2Error) -> AWSResponse {
        throw EC2Error.transport("no network in this test (\(request.url))")
    }
}

final class CredentialChainTests: XCTestCase {
    var dir = ""

    override func setUp() {
        dir = NSTemporaryDirectory() + "ec2creds-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: dir + "/.aws", withIntermediateDirectories: true)
        try? "[default]\naws_access_key_id = AKIDFILEDEFAULT\naws_secret_access_key = filesecret\n[other]\naws_access_key_id = AKIDFILEOTHER\naws_secret_access_key = othersecret\naws_session_token = othertoken\n"
            .write(toFile: dir + "/.aws/credentials", atomically: true, encoding: .utf8)
        try? "custom-file-secret\n".write(toFile: dir + "/secret.txt", atomically: true, encoding: .utf8)
        try? "[custom]\naws_access_key_id = AKIDCUSTOM\naws_secret_access_key = customsecret\n".write(toFile: dir + "/creds.ini", atomically: true, encoding: .utf8)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func chain(_ credentials: [String: JSONValue] = [:], env: [String: String]) throws -> CredentialChain {
        let config = try EC2Config.parse(.object(["credentials": .object(credentials)]), path: "providers.ec2", configDirectory: dir)
        return CredentialChain(config: config, environment: env, transport: NoNetwork(), logger: Logger(label: "t"))
    }

    func testOrder() async throws {
        let envKeys = ["AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "envsecret", "HOME": dir]
        var c = try await chain(["access_key_id": .string("AKIDCONFIG"), "secret_access_key_file": .string("secret.txt")], env: envKeys)
            .current(stsRegion: "us-east-1")
        XCTAssertEqual(c.accessKeyID, "AKIDCONFIG")
        XCTAssertEqual(c.secretAccessKey, "custom-file-secret")
        c = try await chain(env: envKeys).current(stsRegion: "us-east-1")
        XCTAssertEqual(c.source, "environment")
        c = try await chain(env: ["HOME": dir]).current(stsRegion: "us-east-1")
        XCTAssertEqual(c.accessKeyID, "AKIDFILEDEFAULT")
        c = try await chain(env: ["HOME": dir, "AWS_PROFILE": "other"]).current(stsRegion: "us-east-1")
        XCTAssertEqual(c.accessKeyID, "AKIDFILEOTHER")
        XCTAssertEqual(c.sessionToken, "othertoken")
        c = try await chain(["profile": .string("custom")], env: envKeys.merging(["AWS_SHARED_CREDENTIALS_FILE": dir + "/creds.ini"]) { $1 })
            .current(stsRegion: "us-east-1")
        XCTAssertEqual(c.accessKeyID, "AKIDCUSTOM", "an explicit profile beats the environment")
        XCTAssertFalse("\(c)".contains("customsecret"))
    }

    func testLocalRegion() throws {
        try "[default]\nregion = eu-north-1\n[profile other]\nregion = ap-south-1\n".write(toFile: dir + "/.aws/config", atomically: true, encoding: .utf8)
        let c = EC2Config()
        XCTAssertEqual(EC2Provider.localRegion(config: c, environment: ["AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "x-1", "HOME": dir]), "us-west-2")
        XCTAssertEqual(EC2Provider.localRegion(config: c, environment: ["AWS_DEFAULT_REGION": "us-west-1", "HOME": dir]), "us-west-1")
        XCTAssertEqual(EC2Provider.localRegion(config: c, environment: ["HOME": dir]), "eu-north-1")
        XCTAssertEqual(EC2Provider.localRegion(config: c, environment: ["HOME": dir, "AWS_PROFILE": "other"]), "ap-south-1")
        XCTAssertNil(EC2Provider.localRegion(config: c, environment: ["HOME": dir + "/none"]))
    }

    func testNothingFoundIsAClearError() async throws {
        do {
            _ = try await chain(env: ["HOME": dir + "/nowhere", "AWS_EC2_METADATA_DISABLED": "true"]).current(stsRegion: "us-east-1")
            XCTFail("found credentials")
        } catch {
            XCTAssertTrue("\(error)".contains("IMDS disabled"), "\(error)")
        }
        do {
            _ = try await chain(env: ["HOME": dir + "/nowhere"]).current(stsRegion: "us-east-1")
            XCTFail("found credentials")
        } catch {
            XCTAssertTrue("\(error)".contains("instance metadata service failed"), "\(error)")
        }
    }
}
