import DiscoveryCore

/// How a source names its services: one fixed name, or every catalog service matching a prefix or a tag.
public enum ConsulServiceSelector: Sendable, Hashable {
    case name(String)
    case prefix(String)
    case tag(String)
}

/// Which address of an entry becomes the instance address.
public enum ConsulAddressMode: Sendable, Hashable {
    /// `Service.Address`, or `Node.Address` when empty (Consul's own rule).
    case service
    case node
    /// `Service.TaggedAddresses.<name>`, then `Node.TaggedAddresses.<name>`, then the service address.
    case tagged(String)
}

/// The query parameters of a health watch that a source adds (tags, node meta, filter).
public struct ConsulQueryParams: Sendable, Hashable {
    public var tags: [String] = []
    /// `k:v` pairs, sorted.
    public var nodeMeta: [String] = []
    public var filter: String?
}

/// One validated Consul source.
public struct ConsulSource: Sendable, Hashable {
    /// `SourceSpec.key`: where its instances are published.
    public var key: String
    public var selector: ConsulServiceSelector
    public var params: ConsulQueryParams
    public var addressMode: ConsulAddressMode

    /// Validates a source's service and options (`tags`, `node_meta`, `filter`, `address`), naming JSON paths.
    public static func parse(_ spec: SourceSpec) throws(ConfigError) -> ConsulSource {
        var r = try ObjectReader(.object(spec.options), at: spec.path)
        let servicePath = ConfigPath.key(spec.path, "service")
        let selector: ConsulServiceSelector
        if spec.service.hasPrefix("prefix:") {
            let p = String(spec.service.dropFirst("prefix:".count))
            guard !p.isEmpty else { throw ConfigError(path: servicePath, "prefix: needs a prefix, e.g. \"prefix:web-\"") }
            selector = .prefix(p)
        } else if spec.service.hasPrefix("tag:") {
            let t = String(spec.service.dropFirst("tag:".count))
            guard !t.isEmpty else { throw ConfigError(path: servicePath, "tag: needs a tag, e.g. \"tag:haproxy\"") }
            selector = .tag(t)
        } else {
            guard !spec.service.isEmpty, !spec.service.contains("/"), !spec.service.contains(where: { $0.isWhitespace }) else {
                throw ConfigError(path: servicePath, "expected a Consul service name, \"prefix:<p>\" or \"tag:<t>\", got \"\(spec.service)\"")
            }
            selector = .name(spec.service)
        }
        var params = ConsulQueryParams()
        if let tags = try r.stringArray("tags") {
            for (i, t) in tags.enumerated() where t.isEmpty {
                throw ConfigError(path: ConfigPath.index(r.pathOf("tags"), i), "must not be empty")
            }
            params.tags = tags
        }
        if let meta = try r.stringMap("node_meta") {
            for k in meta.keys where k.isEmpty || k.contains(":") {
                throw ConfigError(path: ConfigPath.key(r.pathOf("node_meta"), k), "node meta keys must be non-empty and contain no ':'")
            }
            params.nodeMeta = meta.map { "\($0.key):\($0.value)" }.sorted()
        }
        params.filter = try r.nonEmptyString("filter")
        var mode = ConsulAddressMode.service
        if let a = try r.string("address") {
            switch a {
            case "service": mode = .service
            case "node": mode = .node
            default:
                guard a.hasPrefix("tagged:"), a.count > "tagged:".count else {
                    throw ConfigError(path: r.pathOf("address"), "expected \"service\", \"node\" or \"tagged:<name>\" (e.g. \"tagged:lan\"), got \"\(a)\"")
                }
                mode = .tagged(String(a.dropFirst("tagged:".count)))
            }
        }
        try r.finish()
        return ConsulSource(key: spec.key, selector: selector, params: params, addressMode: mode)
    }
}
