import CurlHTTP
import DiscoveryCore
import Basics
import FoundationEssentials

/// The validated `providers.consul` block.
public struct ConsulSettings: Sendable, Equatable {
    /// Base URL of the HTTP API, `http://host:port` or `https://host:port`, no trailing slash.
    public var address: String
    public var token: ConsulTokenSource
    public var datacenter: String?
    public var namespace: String?
    public var partition: String?
    public var tls: TLSSettings
    /// Blocking-query wait (server side); the HTTP timeout is `wait + wait/16 + 10s`.
    public var wait: Duration
    public var stale: Bool
    public var cached: Bool
    /// Token-bucket interval between requests of one watch loop (burst 2).
    public var minRequestInterval: Duration
    /// A `X-Consul-LastContact` above this marks an answer as coming from a lagging server.
    public var maxLastContact: Duration
    /// Longest pause between retries after a failure (jittered between half and all of it): bounds how long after an
    /// outage the bridge notices Consul is back.
    public var retryMax: Duration = .milliseconds(750)
    /// Most TCP connections to the Consul address at once, whatever the number of watches (`max_connections`).
    public var maxConnections: Int = 16
    /// Most HTTP/2 streams put on one connection when the agent negotiates h2 (`max_streams_per_connection`;
    /// Go's HTTP/2 server, Consul's, allows 250).
    public var maxStreamsPerConnection: Int = 250
    /// `auto`: one blocking query per watch while they fit the connections, else the shared change feed.
    public var watchMode: ConsulWatchMode = .auto

    public static let defaultAddress = "http://127.0.0.1:8500"

    /// Parses `providers.consul` (`config` may be null when the block is absent), with `CONSUL_*` fallbacks.
    public static func parse(_ config: JSONValue, path: String, context: ProviderContext) throws(ConfigError) -> ConsulSettings {
        let env = context.environment
        var r = try ObjectReader(config == .null ? .object([:]) : config, at: path)

        var address: String
        var addressPath = r.pathOf("address")
        if let a = try r.nonEmptyString("address") {
            address = a
        } else if let a = env["CONSUL_HTTP_ADDR"], !a.isEmpty {
            address = a
            addressPath = "\(addressPath) (from CONSUL_HTTP_ADDR)"
            if !address.contains("://") {
                let ssl = ["1", "true"].contains((env["CONSUL_HTTP_SSL"] ?? "").lowercased())
                address = (ssl ? "https://" : "http://") + address
            }
        } else {
            address = defaultAddress
        }
        address = try validateAddress(address, path: addressPath)

        let tokenLiteral = try r.string("token")
        let tokenFile = try r.nonEmptyString("token_file")
        if tokenLiteral != nil && tokenFile != nil {
            throw ConfigError(path: r.pathOf("token_file"), "set either token or token_file, not both")
        }
        var token = ConsulTokenSource.none
        if let t = tokenLiteral {
            token = .literal(t.trimmingWhitespace())
        } else if let f = tokenFile {
            token = .file(try readableFile(f, path: r.pathOf("token_file"), context: context))
        } else if let t = env["CONSUL_HTTP_TOKEN"], !t.isEmpty {
            token = .literal(t.trimmingWhitespace())
        } else if let f = env["CONSUL_HTTP_TOKEN_FILE"], !f.isEmpty {
            token = .file(try readableFile(f, path: "\(r.pathOf("token_file")) (from CONSUL_HTTP_TOKEN_FILE)", context: context))
        }

        let datacenter = try r.nonEmptyString("datacenter")
        let namespace = try r.nonEmptyString("namespace")
        let partition = try r.nonEmptyString("partition")

        var tls = TLSSettings(
            caFile: env["CONSUL_CACERT"].flatMap { $0.isEmpty ? nil : $0 },
            caPath: env["CONSUL_CAPATH"].flatMap { $0.isEmpty ? nil : $0 },
            certFile: env["CONSUL_CLIENT_CERT"].flatMap { $0.isEmpty ? nil : $0 },
            keyFile: env["CONSUL_CLIENT_KEY"].flatMap { $0.isEmpty ? nil : $0 },
            serverName: env["CONSUL_TLS_SERVER_NAME"].flatMap { $0.isEmpty ? nil : $0 },
            insecureSkipVerify: (env["CONSUL_HTTP_SSL_VERIFY"] ?? "").lowercased() == "false"
        )
        if var t = try r.object("tls") {
            if let v = try t.nonEmptyString("ca_file") { tls.caFile = try readableFile(v, path: t.pathOf("ca_file"), context: context) }
            if let v = try t.nonEmptyString("ca_path") { tls.caPath = resolve(v, context: context) }
            if let v = try t.nonEmptyString("cert_file") { tls.certFile = try readableFile(v, path: t.pathOf("cert_file"), context: context) }
            if let v = try t.nonEmptyString("key_file") { tls.keyFile = try readableFile(v, path: t.pathOf("key_file"), context: context) }
            if let v = try t.nonEmptyString("server_name") { tls.serverName = v }
            if let v = try t.bool("insecure_skip_verify") { tls.insecureSkipVerify = v }
            if (tls.certFile == nil) != (tls.keyFile == nil) {
                throw ConfigError(path: t.pathOf(tls.certFile == nil ? "cert_file" : "key_file"), "cert_file and key_file go together")
            }
            try t.finish()
        }

        let wait = try r.duration("wait") ?? .seconds(300)
        guard wait >= .seconds(1), wait <= .seconds(600) else {
            throw ConfigError(path: r.pathOf("wait"), "must be between 1s and 10m (Consul's maximum)")
        }
        let stale = try r.bool("stale") ?? true
        let cached = try r.bool("cached") ?? false
        let interval = try r.duration("min_request_interval") ?? .milliseconds(100)
        guard interval >= .milliseconds(1) else {
            throw ConfigError(path: r.pathOf("min_request_interval"), "must be at least 1ms")
        }
        let maxLastContact = try r.duration("max_last_contact") ?? .seconds(10)
        let retryMax = try r.duration("retry_max") ?? .milliseconds(750)
        guard retryMax >= .milliseconds(10), retryMax <= .seconds(600) else {
            throw ConfigError(path: r.pathOf("retry_max"), "must be between 10ms and 10m")
        }
        // At least three: the change feed holds two blocking queries and fetches on the rest. Consul allows 200 per client IP by default (limits.http_max_conns_per_client); more only where the agent allows more.
        let maxConnections = try r.int("max_connections", in: 3...10000, describe: "an integer from 3 to 10000") ?? 16
        let streams = try r.int("max_streams_per_connection", in: 1...1000, describe: "an integer from 1 to 1000") ?? 250
        var mode = ConsulWatchMode.auto
        if let m = try r.string("watch_mode") {
            guard let parsed = ConsulWatchMode(rawValue: m) else {
                throw ConfigError(path: r.pathOf("watch_mode"), "expected \"auto\", \"per_service\" or \"feed\", got \"\(m)\"")
            }
            mode = parsed
        }
        try r.finish()

        var settings = ConsulSettings(
            address: address, token: token, datacenter: datacenter, namespace: namespace, partition: partition,
            tls: tls, wait: wait, stale: stale, cached: cached, minRequestInterval: interval, maxLastContact: maxLastContact
        )
        settings.retryMax = retryMax
        settings.maxConnections = maxConnections
        settings.maxStreamsPerConnection = streams
        settings.watchMode = mode
        return settings
    }

    static func validateAddress(_ raw: String, path: String) throws(ConfigError) -> String {
        var a = raw.trimmingWhitespace()
        let lower = a.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else {
            throw ConfigError(path: path, "expected an http:// or https:// URL, got \"\(raw)\"")
        }
        while a.hasSuffix("/") { a.removeLast() }
        let rest = a.drop(while: { $0 != ":" }).dropFirst(3)
        guard !rest.isEmpty, !rest.contains("/"), !rest.contains("?"), !rest.contains("@"), !rest.contains(" ") else {
            throw ConfigError(path: path, "expected scheme://host[:port] with no path, query or credentials, got \"\(raw)\"")
        }
        return a
    }

    static func resolve(_ file: String, context: ProviderContext) -> String {
        if file.hasPrefix("/") || context.configDirectory.isEmpty { return file }
        return FileBytes.join(context.configDirectory, file)
    }

    static func readableFile(_ file: String, path: String, context: ProviderContext) throws(ConfigError) -> String {
        let full = resolve(file, context: context)
        guard FileManager.default.isReadableFile(atPath: full) else {
            throw ConfigError(path: path, "cannot read \(full)")
        }
        return full
    }
}
