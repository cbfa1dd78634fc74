import DiscoveryCore
import Basics
import FoundationEssentials

/// The validated `providers.ec2` block.
public struct EC2Config: Sendable, Equatable {
    /// Which address of an instance is published.
    public enum AddressKind: String, Sendable, Equatable {
        case `private`, `public`, ipv6
    }

    /// The `credentials` object; every field optional (absent means: use the default chain).
    public struct Credentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
        public var accessKeyID: String?
        public var secretAccessKey: String?
        /// Path of a file holding the secret key (re-read whenever credentials are refreshed).
        public var secretAccessKeyFile: String?
        public var sessionToken: String?
        public var profile: String?
        public var roleARN: String?
        public var externalID: String?

        public init() {}

        public var description: String {
            var parts: [String] = []
            if accessKeyID != nil { parts.append("access_key_id: <set>") }
            if secretAccessKey != nil { parts.append("secret_access_key: <redacted>") }
            if let f = secretAccessKeyFile { parts.append("secret_access_key_file: \(f)") }
            if sessionToken != nil { parts.append("session_token: <redacted>") }
            if let p = profile { parts.append("profile: \(p)") }
            if let r = roleARN { parts.append("role_arn: \(r)") }
            if externalID != nil { parts.append("external_id: <set>") }
            return "Credentials(\(parts.joined(separator: ", ")))"
        }

        public var debugDescription: String { description }
    }

    /// Explicit regions; empty means one region: `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region` in the
    /// shared config file, then the instance's own region from IMDS (unless `AWS_EC2_METADATA_DISABLED=true`).
    public var regions: [String] = []
    /// Endpoint override; `{region}` is replaced. Default `https://ec2.{region}.amazonaws.com`.
    public var endpoint: String?
    public var refreshInterval: Duration = .seconds(30)
    public var credentials = Credentials()
    public var serviceTag = "HAProxy:Service:Name"
    public var portTag = "HAProxy:Service:Port"
    public var weightTag = "HAProxy:Server:Weight"
    public var address: AddressKind = .private
    /// Extra server-side filters: filter name → values (sorted by name when sent).
    public var filters: [String: [String]] = [:]
    public var imdsEndpoint = "http://169.254.169.254"
    /// STS endpoint override; `{region}` is replaced. Default `https://sts.{region}.amazonaws.com`.
    public var stsEndpoint: String?
    public var timeout: Duration = .seconds(10)
    /// The SQS event queue (`events`); nil: DescribeInstances polling only.
    public var events: EC2EventsConfig?

    public init() {}

    /// Validates `providers.ec2` at `path`; `configDirectory` resolves a relative `secret_access_key_file`.
    public static func parse(_ value: JSONValue, path: String, configDirectory: String) throws(ConfigError) -> EC2Config {
        var c = EC2Config()
        var r = try ObjectReader(value, at: path)
        if let regions = try r.stringArray("regions") {
            for (i, region) in regions.enumerated() where !isRegionName(region) {
                throw ConfigError(path: ConfigPath.index(r.pathOf("regions"), i), "expected an AWS region name such as \"eu-west-1\", got \"\(region.prefix(40))\"")
            }
            guard Set(regions).count == regions.count else { throw ConfigError(path: r.pathOf("regions"), "lists a region twice") }
            c.regions = regions
        }
        if let e = try r.nonEmptyString("endpoint") {
            try checkURL(e, path: r.pathOf("endpoint"))
            c.endpoint = e
        }
        if let d = try r.duration("refresh_interval") {
            guard d >= .milliseconds(100) else { throw ConfigError(path: r.pathOf("refresh_interval"), "must be at least 100ms") }
            c.refreshInterval = d
        }
        if var cr = try r.object("credentials") {
            var creds = Credentials()
            creds.accessKeyID = try cr.nonEmptyString("access_key_id")
            creds.secretAccessKey = try cr.nonEmptyString("secret_access_key")
            if let f = try cr.nonEmptyString("secret_access_key_file") {
                let full = f.hasPrefix("/") ? f : configDirectory + "/" + f
                guard FileManager.default.isReadableFile(atPath: full) else {
                    throw ConfigError(path: cr.pathOf("secret_access_key_file"), "cannot read \(full)")
                }
                creds.secretAccessKeyFile = full
            }
            creds.sessionToken = try cr.nonEmptyString("session_token")
            creds.profile = try cr.nonEmptyString("profile")
            creds.roleARN = try cr.nonEmptyString("role_arn")
            creds.externalID = try cr.nonEmptyString("external_id")
            try cr.finish()
            if creds.secretAccessKey != nil && creds.secretAccessKeyFile != nil {
                throw ConfigError(path: cr.pathOf("secret_access_key_file"), "give either secret_access_key or secret_access_key_file, not both")
            }
            let hasSecret = creds.secretAccessKey != nil || creds.secretAccessKeyFile != nil
            if creds.accessKeyID != nil && !hasSecret {
                throw ConfigError(path: cr.pathOf("secret_access_key"), "is required with access_key_id (or secret_access_key_file)")
            }
            if creds.accessKeyID == nil && hasSecret {
                throw ConfigError(path: cr.pathOf("access_key_id"), "is required with secret_access_key")
            }
            if creds.sessionToken != nil && creds.accessKeyID == nil {
                throw ConfigError(path: cr.pathOf("session_token"), "needs access_key_id and secret_access_key")
            }
            if creds.profile != nil && creds.accessKeyID != nil {
                throw ConfigError(path: cr.pathOf("profile"), "give either a profile or explicit keys, not both")
            }
            if let arn = creds.roleARN, !arn.hasPrefix("arn:") {
                throw ConfigError(path: cr.pathOf("role_arn"), "expected a role ARN such as \"arn:aws:iam::123456789012:role/name\"")
            }
            if creds.externalID != nil && creds.roleARN == nil {
                throw ConfigError(path: cr.pathOf("external_id"), "is only used with role_arn")
            }
            c.credentials = creds
        }
        for (key, keyPath) in [("service_tag", "service_tag"), ("port_tag", "port_tag"), ("weight_tag", "weight_tag")] {
            if let t = try r.nonEmptyString(key) {
                guard t.utf8.count <= 128 else { throw ConfigError(path: r.pathOf(keyPath), "a tag key has at most 128 characters") }
                switch key {
                case "service_tag": c.serviceTag = t
                case "port_tag": c.portTag = t
                default: c.weightTag = t
                }
            }
        }
        if let a = try r.oneOf("address", ["private", "public", "ipv6"]), let kind = AddressKind(rawValue: a) {
            c.address = kind
        }
        if let f = try r.object("filters") {
            var filters: [String: [String]] = [:]
            var fr = f
            for name in f.values.keys.sorted() {
                guard !name.isEmpty else { throw ConfigError(path: fr.pathOf(name), "filter name must not be empty") }
                guard let values = try fr.stringArray(name), !values.isEmpty else {
                    throw ConfigError(path: fr.pathOf(name), "expected a non-empty array of strings")
                }
                if name == "tag:\(c.serviceTag)" || name == "instance-state-name" {
                    throw ConfigError(path: fr.pathOf(name), "is set by the provider and cannot be overridden")
                }
                filters[name] = values
            }
            c.filters = filters
        }
        if let e = try r.nonEmptyString("imds_endpoint") {
            try checkURL(e, path: r.pathOf("imds_endpoint"))
            c.imdsEndpoint = e.hasSuffix("/") ? String(e.dropLast()) : e
        }
        if let e = try r.nonEmptyString("sts_endpoint") {
            try checkURL(e, path: r.pathOf("sts_endpoint"))
            c.stsEndpoint = e
        }
        if let d = try r.duration("timeout") {
            guard d >= .milliseconds(100), d <= .seconds(300) else { throw ConfigError(path: r.pathOf("timeout"), "must be between 100ms and 5m") }
            c.timeout = d
        }
        if let e = r.raw("events") { c.events = try EC2EventsConfig.parse(e, path: r.pathOf("events")) }
        try r.finish()
        return c
    }

    static func isRegionName(_ s: String) -> Bool {
        guard !s.isEmpty, s.count <= 32, s.first?.isLetter == true else { return false }
        return s.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" }
    }

    static func checkURL(_ s: String, path: String) throws(ConfigError) {
        guard s.hasPrefix("http://") || s.hasPrefix("https://"), s.count > 8, !s.contains(" ") else {
            throw ConfigError(path: path, "expected an http:// or https:// URL, got \"\(s.prefix(60))\"")
        }
    }

    /// The DescribeInstances endpoint of `region`, without a trailing slash.
    func ec2Endpoint(region: String) -> String {
        let e = (endpoint ?? "https://ec2.{region}.amazonaws.com").replacingAll("{region}", with: region)
        return e.hasSuffix("/") ? String(e.dropLast()) : e
    }

    /// The STS endpoint of `region`, without a trailing slash.
    func stsEndpointURL(region: String) -> String {
        let e = (stsEndpoint ?? "https://sts.{region}.amazonaws.com").replacingAll("{region}", with: region)
        return e.hasSuffix("/") ? String(e.dropLast()) : e
    }
}
