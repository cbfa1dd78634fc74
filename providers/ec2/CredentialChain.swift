import DiscoveryCore
import FoundationEssentials
import Logging

/// Finds AWS credentials the way the AWS SDKs do, caches them and refreshes them before they expire.
///
/// Order: explicit config keys → `profile` from config (shared files only) → environment
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) → shared files (`AWS_PROFILE` or `default`)
/// → IMDSv2 instance role (unless `AWS_EC2_METADATA_DISABLED=true`). With `role_arn` the result is used to call
/// STS AssumeRole and the temporary role credentials are used instead. Temporary credentials are refreshed
/// five minutes before they expire.
actor CredentialChain {
    let config: EC2Config
    let environment: [String: String]
    let transport: any AWSTransport
    let logger: Logger
    /// Refresh temporary credentials this many seconds before they expire.
    let refreshMargin: Double = 300

    private var base: AWSCredentials?
    private var assumed: AWSCredentials?
    private var inflight: Task<AWSCredentials, any Error>?
    private var lastSource: String?

    init(config: EC2Config, environment: [String: String], transport: any AWSTransport, logger: Logger) {
        self.config = config
        self.environment = environment
        self.transport = transport
        self.logger = logger
    }

    static func now() -> Double { Date().timeIntervalSince1970 }

    /// Valid credentials for signing; `stsRegion` is the region AssumeRole is called in.
    func current(stsRegion: String) async throws(EC2Error) -> AWSCredentials {
        let now = Self.now()
        if config.credentials.roleARN != nil {
            if let a = assumed, !a.expires(within: refreshMargin, now: now) { return a }
        } else if let b = base, !b.expires(within: refreshMargin, now: now) {
            return b
        }
        if let t = inflight { return try await Self.await(t) }
        let task = Task { () async throws -> AWSCredentials in try await self.resolve(stsRegion: stsRegion) }
        inflight = task
        defer { inflight = nil }
        return try await Self.await(task)
    }

    private static func await(_ t: Task<AWSCredentials, any Error>) async throws(EC2Error) -> AWSCredentials {
        do {
            return try await t.value
        } catch let e as EC2Error {
            throw e
        } catch {
            throw EC2Error.credentials("\(error)")
        }
    }

    /// Forgets cached credentials (after AuthFailure / ExpiredToken) so the next call fetches fresh ones.
    func invalidate() {
        base = nil
        assumed = nil
    }

    private func resolve(stsRegion: String) async throws(EC2Error) -> AWSCredentials {
        let now = Self.now()
        var b: AWSCredentials
        if let cached = base, !cached.expires(within: refreshMargin, now: now) {
            b = cached
        } else {
            b = try await resolveBase()
            base = b
        }
        var result = b
        if let arn = config.credentials.roleARN {
            result = try await assumeRole(arn: arn, with: b, region: stsRegion)
            assumed = result
        }
        if lastSource != result.source {
            logger.info("ec2: using AWS credentials", metadata: ["credentials": "\(result.description)"])
            lastSource = result.source
        }
        return result
    }

    private func resolveBase() async throws(EC2Error) -> AWSCredentials {
        let c = config.credentials
        if let key = c.accessKeyID {
            var secret = c.secretAccessKey
            if let file = c.secretAccessKeyFile {
                switch FileBytes.read(file) {
                case .success(let bytes): secret = String(decoding: bytes, as: UTF8.self).trimmingWhitespace()
                case .failure(let failure): throw EC2Error.credentials("cannot read secret_access_key_file \(file): \(failure.text)")
                }
            }
            guard let secret, !secret.isEmpty else { throw EC2Error.credentials("secret access key is empty") }
            return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: c.sessionToken, source: "config")
        }
        let files = SharedCredentialFiles(environment: environment)
        if let profile = c.profile {
            guard let creds = files.credentials(profile: profile) else {
                throw EC2Error.credentials("profile \"\(profile)\" has no aws_access_key_id/aws_secret_access_key in the shared credentials or config file")
            }
            return creds
        }
        if let key = nonEmpty("AWS_ACCESS_KEY_ID"), let secret = nonEmpty("AWS_SECRET_ACCESS_KEY") {
            return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: nonEmpty("AWS_SESSION_TOKEN"), source: "environment")
        }
        let profile = nonEmpty("AWS_PROFILE") ?? "default"
        if let creds = files.credentials(profile: profile) { return creds }
        if nonEmpty("AWS_EC2_METADATA_DISABLED")?.lowercased() == "true" {
            throw EC2Error.credentials("none found (config, environment, shared files; IMDS disabled by AWS_EC2_METADATA_DISABLED)")
        }
        do {
            return try await IMDS(endpoint: config.imdsEndpoint, transport: transport, timeout: config.timeout).roleCredentials()
        } catch {
            throw EC2Error.credentials("none found in config, environment or shared files, and the instance metadata service failed: \(error)")
        }
    }

    private func nonEmpty(_ name: String) -> String? {
        guard let v = environment[name], !v.isEmpty else { return nil }
        return v
    }

    private func assumeRole(arn: String, with creds: AWSCredentials, region: String) async throws(EC2Error) -> AWSCredentials {
        var params: [(String, String)] = [
            ("Action", "AssumeRole"), ("Version", "2011-06-15"), ("RoleArn", arn),
            ("RoleSessionName", "discovery-bridge"), ("DurationSeconds", "3600"),
        ]
        if let e = config.credentials.externalID { params.append(("ExternalId", e)) }
        let request = AWSRequest(
            method: "POST", url: config.stsEndpointURL(region: region) + "/",
            headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
            body: Array(QueryEncoding.form(params).utf8), timeout: config.timeout,
            signing: AWSSigning(region: region, service: "sts", credentials: creds))
        let response = try await transport.send(request)
        guard response.status == 200 else {
            if let e = EC2XML.apiError(response.body) {
                throw EC2Error.credentials("AssumeRole \(arn): HTTP \(response.status) \(e.code): \(e.message)")
            }
            throw EC2Error.credentials("AssumeRole \(arn): HTTP \(response.status)")
        }
        return try EC2XML.assumeRole(response.body)
    }
}

/// A client of the EC2 instance metadata service, version 2 (session token required).
struct IMDS: Sendable {
    var endpoint: String
    var transport: any AWSTransport
    var timeout: Duration

    var requestTimeout: Duration { min(timeout, .seconds(3)) }

    func token() async throws(EC2Error) -> String {
        let r = AWSRequest(method: "PUT", url: endpoint + "/latest/api/token",
                           headers: [("X-aws-ec2-metadata-token-ttl-seconds", "21600")],
                           body: [], timeout: requestTimeout, connectTimeout: .seconds(1))
        let response = try await transport.send(r)
        let token = String(decoding: response.body, as: UTF8.self).trimmingWhitespace()
        guard response.status == 200, !token.isEmpty else { throw EC2Error.malformed("IMDS token request: HTTP \(response.status)") }
        return token
    }

    func get(_ path: String, token: String) async throws(EC2Error) -> String {
        let r = AWSRequest(method: "GET", url: endpoint + path, headers: [("X-aws-ec2-metadata-token", token)],
                           timeout: requestTimeout, connectTimeout: .seconds(1))
        let response = try await transport.send(r)
        guard response.status == 200 else { throw EC2Error.malformed("IMDS \(path): HTTP \(response.status)") }
        return String(decoding: response.body, as: UTF8.self)
    }

    /// The region the instance runs in.
    func region() async throws(EC2Error) -> String {
        let t = try await token()
        let region = try await get("/latest/meta-data/placement/region", token: t).trimmingWhitespace()
        guard EC2Config.isRegionName(region) else { throw EC2Error.malformed("IMDS region is not a region name") }
        return region
    }

    /// Credentials of the instance profile role.
    func roleCredentials() async throws(EC2Error) -> AWSCredentials {
        let t = try await token()
        let roles = try await get("/latest/meta-data/iam/security-credentials/", token: t)
        guard let role = roles.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).map({ String($0).trimmingWhitespace() }).first(where: { !$0.isEmpty }),
              !role.contains("/") else {
            throw EC2Error.credentials("no IAM role attached to the instance")
        }
        let body = try await get("/latest/meta-data/iam/security-credentials/\(QueryEncoding.escape(role))", token: t)
        guard let json = try? JSONValue.parse(body),
              let key = json["AccessKeyId"]?.stringValue, let secret = json["SecretAccessKey"]?.stringValue else {
            throw EC2Error.malformed("IMDS role credentials are not the expected JSON")
        }
        if let code = json["Code"]?.stringValue, code != "Success" {
            throw EC2Error.credentials("IMDS role credentials: \(code.prefix(60))")
        }
        return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: json["Token"]?.stringValue,
                              expiration: json["Expiration"]?.stringValue.flatMap(ISO8601.parse), source: "imds:\(role)")
    }
}
