import DiscoveryCore

/// Compares what each slot serves on two hosts of an HA pair (`status --compare`).
///
/// A slot serves its instance while active; draining and free slots serve nothing, so a drain that ends a little earlier
/// on one host is not reported. Instances compare by id, or by endpoint when a side has no id (a slot adopted from
/// HAProxy's live state).
public enum SlotComparison {
    /// What each slot of each backend serves: backend → server name → instance (absent when serving nothing).
    public typealias Served = [String: [String: String]]

    /// One slot whose instance differs between the hosts.
    public struct Difference: Sendable, Hashable {
        public var backend: String
        public var slot: String
        public var here: String?
        public var there: String?
    }

    /// What the slots of `tables` serve.
    public static func served(_ tables: [String: BackendSlots]) -> Served {
        var out: Served = [:]
        for (backend, table) in tables {
            var b: [String: String] = [:]
            for slot in table.slots where slot.state == .active {
                if let what = slot.instanceID ?? slot.endpoint { b[slot.server] = what }
            }
            out[backend] = b
        }
        return out
    }

    /// Differences over `backends` (this host's configured backends), sorted by backend order then slot number.
    public static func differences(here: Served, there: Served, backends: [BackendConfig]) -> [Difference] {
        var out: [Difference] = []
        for backend in backends {
            let h = here[backend.name] ?? [:], t = there[backend.name] ?? [:]
            let names = Set(h.keys).union(t.keys).sorted { a, b in
                let na = TableAdoption.slotNumber(a, prefix: backend.serverPrefix), nb = TableAdoption.slotNumber(b, prefix: backend.serverPrefix)
                return (na ?? Int.max, a) < (nb ?? Int.max, b)
            }
            for name in names where h[name] != t[name] {
                out.append(Difference(backend: backend.name, slot: name, here: h[name], there: t[name]))
            }
        }
        return out
    }

    /// What the slots serve according to another bridge's `GET /status` document (or a `status --json` print).
    public static func served(statusJSON value: JSONValue) throws(ComparisonError) -> Served {
        var rows: [(backend: String, slot: JSONValue)] = []
        if let backends = value["backends"]?.objectValue {
            for (name, b) in backends {
                guard let slots = b["slots"]?.arrayValue else { throw ComparisonError("backends.\(name).slots is missing or not an array") }
                rows += slots.map { (name, $0) }
            }
        } else if let slots = value["slots"]?.arrayValue {
            for s in slots {
                guard let backend = s["backend"]?.stringValue else { throw ComparisonError("a slot row has no \"backend\"") }
                rows.append((backend, s))
            }
        } else {
            throw ComparisonError("not a bridge status document (no \"backends\" or \"slots\")")
        }
        var out: Served = [:]
        for (backend, s) in rows {
            guard let server = s["slot"]?.stringValue, let state = s["state"]?.stringValue else {
                throw ComparisonError("a slot row of backend \(backend) has no \"slot\" or \"state\"")
            }
            out[backend, default: [:]] = out[backend, default: [:]]
            guard state == SlotState.active.rawValue else { continue }
            var endpoint: String?
            if let a = s["address"]?.stringValue {
                if let p = s["port"]?.intValue { endpoint = Endpoint.key(address: a, port: p) } else { endpoint = a }
            }
            if let what = s["instance"]?.stringValue ?? endpoint { out[backend]?[server] = what }
        }
        return out
    }
}

/// The other host's table could not be read or understood.
public struct ComparisonError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
