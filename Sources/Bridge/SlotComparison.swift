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
    public static func served(statusJSON bytes: [UInt8]) throws(ComparisonError) -> Served {
        let rows: [SlotStatus]
        var out: Served = [:]
        if let report = try? StatusJSON.decode(StatusReport.self, from: bytes) {
            rows = report.backends.values.flatMap(\.slots)
            for name in report.backends.keys { out[name] = [:] }
        } else if let table = try? StatusJSON.decode(SlotTableReport.self, from: bytes) {
            rows = table.slots
        } else {
            do {
                _ = try JSONValue.parse(bytes: bytes)
            } catch {
                throw ComparisonError("not JSON: \(error)")
            }
            throw ComparisonError("not a bridge status document (GET /status or status --json)")
        }
        for row in rows {
            out[row.backend, default: [:]] = out[row.backend, default: [:]]
            guard row.state == SlotState.active.rawValue else { continue }
            let endpoint = row.address.map { a in row.port.map { Endpoint.key(address: a, port: $0) } ?? a }
            if let what = row.instance ?? endpoint { out[row.backend]?[row.slot] = what }
        }
        return out
    }
}

/// The other host's table could not be read or understood.
public struct ComparisonError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
