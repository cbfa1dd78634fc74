import DiscoveryCore

/// The instances file: `{"services": {"web": [{"id": "web-1", "address": "10.0.0.1", "port": 8080, ...}]}}`.
public enum InstancesFile {
    /// Parses the file's bytes into instances per service; every error names the JSON path and the file.
    ///
    /// The common shape is read straight from the bytes; anything else, and every error, goes through `parseStrict`.
    public static func parse(_ bytes: [UInt8], file: String) throws(ConfigError) -> [String: [Instance]] {
        var reader = InstancesFileReader()
        return try reader.parse(bytes, file: file)
    }

    /// The reference reader: a strict JSON tree first (exact positions for syntax errors and duplicate keys), then
    /// every field checked with its JSON path. The fast path must agree with it on every input it accepts.
    public static func parseStrict(_ bytes: [UInt8], file: String) throws(ConfigError) -> [String: [Instance]] {
        let root: JSONValue
        do {
            root = try JSONValue.parse(bytes: bytes)
        } catch {
            throw ConfigError(path: "", "not valid JSON: \(error)", file: file)
        }
        do throws(ConfigError) {
            var top = try ObjectReader(root, at: "")
            guard let servicesReader = try top.object("services") else {
                throw ConfigError(path: "services", "required: an object of service name to instance list")
            }
            try top.finish()
            var services: [String: [Instance]] = [:]
            for (name, value) in servicesReader.values.sorted(by: { $0.key < $1.key }) {
                let path = servicesReader.pathOf(name)
                guard case .array(let items) = value else {
                    throw ConfigError(path: path, "expected an array of instances, got \(value.shortDescription)")
                }
                var seen = Set<String>()
                var instances: [Instance] = []
                instances.reserveCapacity(items.count)
                for (i, item) in items.enumerated() {
                    let instance = try parseInstance(item, at: ConfigPath.index(path, i))
                    guard seen.insert(instance.id).inserted else {
                        throw ConfigError(path: ConfigPath.index(path, i) + ".id", "duplicate id \"\(instance.id)\" in service \"\(name)\"")
                    }
                    instances.append(instance)
                }
                services[name] = instances
            }
            return services
        } catch {
            var e = error
            e.file = file
            throw e
        }
    }

    static func parseInstance(_ value: JSONValue, at path: String) throws(ConfigError) -> Instance {
        var r = try ObjectReader(value, at: path)
        let address = try r.requireString("address")
        guard AddressLiteral.isValid(address) else {
            throw ConfigError(path: r.pathOf("address"), "expected an IPv4 or IPv6 address literal, got \"\(address.prefix(64))\"")
        }
        let port = try r.int("port", in: 1...65535, describe: "a port 1-65535")
        let id = try r.nonEmptyString("id") ?? Endpoint.key(address: address, port: port ?? 0)
        let weight = try r.int("weight", in: 0...256, describe: "a weight 0-256")
        var health = InstanceHealth.passing
        if let h = try r.oneOf("health", InstanceHealth.allCases.map(\.rawValue)), let parsed = InstanceHealth(rawValue: h) {
            health = parsed
        }
        let tags = try r.stringArray("tags") ?? []
        let meta = try r.stringMap("meta") ?? [:]
        try r.finish()
        return Instance(id: id, address: address, port: port, weight: weight, health: health, tags: tags, meta: meta)
    }
}
