import DiscoveryCore

/// Turns `/v1/health/service` entries into instances; pure, so it is tested without a server.
public enum ConsulMapping {
    /// Why an answer body could not be used.
    public struct BodyError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Parses a health answer: it must be a JSON array (Consul never sends `null`).
    public static func parseEntries(_ body: [UInt8]) throws(BodyError) -> [JSONValue] {
        let doc: JSONValue
        do {
            doc = try JSONValue.parse(bytes: body)
        } catch {
            throw BodyError(description: "answer is not valid JSON: \(error)")
        }
        guard let array = doc.arrayValue else {
            throw BodyError(description: "answer is not a JSON array but \(doc.shortDescription)")
        }
        return array
    }

    /// Parses a `/v1/catalog/services` answer: service name -> tags.
    public static func parseCatalog(_ body: [UInt8]) throws(BodyError) -> [String: [String]] {
        let doc: JSONValue
        do {
            doc = try JSONValue.parse(bytes: body)
        } catch {
            throw BodyError(description: "catalog answer is not valid JSON: \(error)")
        }
        guard let object = doc.objectValue else {
            throw BodyError(description: "catalog answer is not a JSON object but \(doc.shortDescription)")
        }
        var out: [String: [String]] = [:]
        for (name, tags) in object {
            out[name] = (tags.arrayValue ?? []).compactMap(\.stringValue)
        }
        return out
    }

    /// The health of an entry from all its checks, node checks included.
    public static func health(checks: [JSONValue]) -> InstanceHealth {
        InstanceHealth.aggregate(checks.map { check -> InstanceHealth in
            let id = field(check, "CheckID")?.stringValue ?? ""
            let status = (field(check, "Status")?.stringValue ?? "").lowercased()
            if id == "_node_maintenance" || id.hasPrefix("_service_maintenance:") || status == "maintenance" {
                return .maintenance
            }
            switch status {
            case "passing": return .passing
            case "warning": return .warning
            default: return .critical  // `critical`, and anything unknown: be conservative
            }
        })
    }

    /// Maps one entry; returns a warning text instead when the entry cannot be used.
    public static func instance(from entry: JSONValue, address mode: ConsulAddressMode, service: String) -> Result<Instance, MappingWarning> {
        let node = field(entry, "Node") ?? .null
        let svc = field(entry, "Service") ?? .null
        let serviceID = field(svc, "ID")?.stringValue ?? ""
        let nodeName = field(node, "Node")?.stringValue ?? ""
        guard !serviceID.isEmpty else {
            return .failure(MappingWarning(service: service, id: "?", reason: "entry has no Service.ID"))
        }
        guard !nodeName.isEmpty else {
            return .failure(MappingWarning(service: service, id: serviceID, reason: "entry has no Node.Node"))
        }
        let id = "\(serviceID)@\(nodeName)"
        let nodeAddress = field(node, "Address")?.stringValue ?? ""
        let serviceAddress = field(svc, "Address")?.stringValue ?? ""
        let defaultAddress = serviceAddress.isEmpty ? nodeAddress : serviceAddress

        var rawPort = field(svc, "Port")
        var address = defaultAddress
        switch mode {
        case .service: break
        case .node: address = nodeAddress
        case .tagged(let name):
            if let tagged = taggedEntry(field(svc, "TaggedAddresses"), name),
               let a = field(tagged, "Address")?.stringValue, !a.isEmpty {
                address = a
                if let p = field(tagged, "Port"), (p.intValue ?? 0) > 0 { rawPort = p }
            } else if let a = taggedEntry(field(node, "TaggedAddresses"), name)?.stringValue, !a.isEmpty {
                address = a
            }
        }
        guard AddressLiteral.isValid(address) else {
            let shown = address.isEmpty ? "an empty address" : "address \"\(address.prefix(80))\""
            return .failure(MappingWarning(service: service, id: id, reason: "\(shown) is not an IP literal"))
        }
        var port: Int? = nil
        if let p = rawPort, p != .null {
            guard let v = p.intValue, (0...65535).contains(v) else {
                return .failure(MappingWarning(service: service, id: id, reason: "port \(p.shortDescription) is out of range"))
            }
            port = v == 0 ? nil : v  // 0: registered without a port, the backend's port applies
        }
        let health = health(checks: field(entry, "Checks")?.arrayValue ?? [])
        let tags = (field(svc, "Tags")?.arrayValue ?? []).compactMap(\.stringValue)
        var meta: [String: String] = [:]
        for (k, v) in field(svc, "Meta")?.objectValue ?? [:] {
            if let s = v.stringValue { meta[k] = s }
        }
        var weight = consulWeight(field(svc, "Weights"), health: health)
        if let w = tags.reversed().lazy.compactMap({ t -> Int? in
            guard t.hasPrefix("weight=") else { return nil }
            return Int(t.dropFirst("weight=".count)).flatMap { (0...256).contains($0) ? $0 : nil }
        }).first {
            weight = w
        }
        if let m = meta["haproxy_weight"], let w = Int(m), (0...256).contains(w) {
            weight = w
        }
        return .success(Instance(id: id, address: address, port: port, weight: weight, health: health, tags: tags, meta: meta))
    }

    /// `Weights.Passing` (or `.Warning` for an instance in warning), clamped to HAProxy's 0...256; Consul's default is 1.
    static func consulWeight(_ weights: JSONValue?, health: InstanceHealth) -> Int {
        let key = health == .warning ? "Warning" : "Passing"
        let raw = weights.flatMap { field($0, key) }?.intValue ?? 1
        return min(max(raw, 0), 256)
    }

    /// Object field lookup, exact first, then case-insensitive.
    static func field(_ value: JSONValue, _ key: String) -> JSONValue? {
        guard let o = value.objectValue else { return nil }
        if let v = o[key] { return v }
        let lower = key.lowercased()
        return o.first(where: { $0.key.lowercased() == lower })?.value
    }

    static func taggedEntry(_ tagged: JSONValue?, _ name: String) -> JSONValue? {
        guard let tagged else { return nil }
        return field(tagged, name)
    }
}

/// An entry that was skipped, with the service and instance it came from.
public struct MappingWarning: Error, Sendable, Hashable, CustomStringConvertible {
    public var service: String
    public var id: String
    public var reason: String
    public var description: String { "skipping \(service) instance \(id): \(reason)" }
}
