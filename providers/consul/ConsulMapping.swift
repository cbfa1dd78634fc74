import DiscoveryCore
import FoundationEssentials

/// Turns Consul answers into instances; pure, so it is tested without a server.
public enum ConsulMapping {
    /// Why an answer body could not be used.
    public struct BodyError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Parses a `/v1/health/service` answer: it must be a JSON array of entries (Consul never sends `null`).
    /// Consul's plain shape is read straight from the bytes (`EntryScanner`); anything else goes through the full decoder.
    public static func parseEntries(_ body: [UInt8]) throws(BodyError) -> [ConsulHealthEntry] {
        if let entries = EntryScanner.read(body) { return entries }
        return try decodeEntries(body)
    }

    /// `parseEntries` through the full decoder only (its fallback, and what tests hold the fast path to).
    static func decodeEntries(_ body: [UInt8]) throws(BodyError) -> [ConsulHealthEntry] {
        try decode([ConsulHealthEntry].self, body, what: "health answer", expected: "a JSON array of entries")
    }

    /// Parses a `/v1/health/state/<state>` answer: a JSON array of checks. Consul's plain shape is read straight from
    /// the bytes (`CheckListScanner`); anything else goes through the full decoder.
    public static func parseChecks(_ body: [UInt8]) throws(BodyError) -> [ConsulCheck] {
        if let checks = CheckListScanner.read(body) { return checks }
        return try decodeChecks(body)
    }

    /// `parseChecks` through the full decoder only (its fallback, and what tests hold the fast path to).
    static func decodeChecks(_ body: [UInt8]) throws(BodyError) -> [ConsulCheck] {
        try decode(Lossy<ConsulCheck>.self, body, what: "health state answer", expected: "a JSON array of checks").values
    }

    /// Parses a `/v1/catalog/services` answer: service name -> tags (the plain shape straight from the bytes).
    public static func parseCatalog(_ body: [UInt8]) throws(BodyError) -> [String: [String]] {
        if let catalog = CatalogScanner.read(body) { return catalog }
        return try decodeCatalog(body)
    }

    /// `parseCatalog` through the full decoder only.
    static func decodeCatalog(_ body: [UInt8]) throws(BodyError) -> [String: [String]] {
        try decode([String: CatalogTags].self, body, what: "catalog answer", expected: "a JSON object").mapValues(\.values)
    }

    private struct CatalogTags: Decodable {
        var values: [String]
        init(from decoder: any Decoder) throws {
            values = (try? decoder.singleValueContainer().decode(Lossy<String>.self))?.values ?? []
        }
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ body: [UInt8], what: String, expected: String) throws(BodyError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(body))
        } catch DecodingError.dataCorrupted(let context) where context.codingPath.isEmpty {
            let start = String(decoding: body.prefix(60), as: UTF8.self)
            throw BodyError(description: "\(what) is not valid JSON (starts \"\(start)\")")
        } catch {
            throw BodyError(description: "\(what) is not \(expected): \(describe(error))")
        }
    }

    static func describe(_ error: any Error) -> String {
        switch error as? DecodingError {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .keyNotFound(_, let c), .dataCorrupted(let c):
            let path = c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return path.isEmpty ? c.debugDescription : "at \(path): \(c.debugDescription)"
        case nil: return "\(error)"
        @unknown default: return "\(error)"
        }
    }

    /// The health of an entry from all its checks, node checks included.
    public static func health(checks: [ConsulCheck]) -> InstanceHealth {
        InstanceHealth.aggregate(checks.map { check -> InstanceHealth in
            let status = check.status.lowercased()
            if check.checkID == "_node_maintenance" || check.checkID.hasPrefix("_service_maintenance:") || status == "maintenance" {
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
    public static func instance(from entry: ConsulHealthEntry, address mode: ConsulAddressMode, service: String) -> Result<Instance, MappingWarning> {
        let svc = entry.service
        guard !svc.id.isEmpty else {
            return .failure(MappingWarning(service: service, id: "?", reason: "entry has no Service.ID"))
        }
        guard !entry.node.name.isEmpty else {
            return .failure(MappingWarning(service: service, id: svc.id, reason: "entry has no Node.Node"))
        }
        let id = "\(svc.id)@\(entry.node.name)"
        var rawPort = svc.port
        var address = svc.address.isEmpty ? entry.node.address : svc.address
        switch mode {
        case .service: break
        case .node: address = entry.node.address
        case .tagged(let name):
            if let tagged = lookup(svc.taggedAddresses, name), !tagged.address.isEmpty {
                address = tagged.address
                if let p = tagged.port, p > 0 { rawPort = .int(p) }
            } else if let a = lookup(entry.node.taggedAddresses, name), !a.isEmpty {
                address = a
            }
        }
        guard AddressLiteral.isValid(address) else {
            let shown = address.isEmpty ? "an empty address" : "address \"\(address.prefix(80))\""
            return .failure(MappingWarning(service: service, id: id, reason: "\(shown) is not an IP literal"))
        }
        var port: Int? = nil
        if let p = rawPort, p != .other {
            guard case .int(let v) = p, (0...65535).contains(v) else {
                return .failure(MappingWarning(service: service, id: id, reason: "port \(p) is out of range"))
            }
            port = v == 0 ? nil : v  // 0: registered without a port, the backend's port applies
        }
        let health = health(checks: entry.checks)
        var weight = min(max((health == .warning ? svc.warningWeight : svc.passingWeight) ?? 1, 0), 256)
        if let w = svc.tags.reversed().lazy.compactMap({ t -> Int? in
            guard t.hasPrefix("weight=") else { return nil }
            return Int(t.dropFirst("weight=".count)).flatMap { (0...256).contains($0) ? $0 : nil }
        }).first {
            weight = w
        }
        if let m = svc.meta["haproxy_weight"], let w = Int(m), (0...256).contains(w) {
            weight = w
        }
        return .success(Instance(id: id, address: address, port: port, weight: weight, health: health, tags: svc.tags, meta: svc.meta))
    }

    /// Map lookup, exact first, then case-insensitive (tagged-address names are case-insensitive in Consul).
    static func lookup<V>(_ map: [String: V], _ key: String) -> V? {
        if let v = map[key] { return v }
        let lower = key.lowercased()
        return map.first(where: { $0.key.lowercased() == lower })?.value
    }
}
