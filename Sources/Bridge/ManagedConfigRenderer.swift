import DiscoveryCore
import HAProxyModel

/// Renders the managed HAProxy config file (`haproxy.managed_config`) from the slot tables.
///
/// Every slot is its own `server` line, so a reload or restart starts exactly where the runtime left off: an active
/// slot at its instance's address, port and weight; a draining one there too but `disabled` (the new worker has none
/// of its sessions; the bridge sets `drain` again when it notices the reload); a free one `disabled` at the
/// placeholder. Servers added at runtime (growth) are ordinary lines here, so after a reload they are config servers
/// and are not added again. The output depends only on the tables: unchanged tables give identical bytes.
public enum ManagedConfigRenderer {
    /// The whole file for `config`'s backends; a backend without a table gets its template slots, all free.
    public static func render(_ config: BridgeConfig, tables: [String: BackendSlots]) -> String {
        var out = """
        # Managed by discovery-bridge (haproxy.managed_config): its backends, one server line per slot, written from
        # the slot table after every applied change. Do not edit: the next change overwrites it. HAProxy loads it
        # after haproxy.cfg (a second -f), so a reload or restart starts where the Runtime API left off.

        """
        for backend in config.backends {
            out += "\n"
            out += renderBackend(backend, slots: completeSlots(backend, tables[backend.name]))
        }
        return out
    }

    /// One backend section. The single place backend lines are produced, so features that add lines (persistence)
    /// extend this function.
    public static func renderBackend(_ backend: BackendConfig, slots: [Slot]) -> String {
        var out = "backend \(backend.name)\n"
        out += "    balance roundrobin\n"
        // The same persistence lines as `render`, so a reload or restart keeps address-keyed persistence.
        for line in backend.persistence.haproxyLines { out += "    \(line)\n" }
        for slot in slots {
            out += "    " + serverLine(backend, slot) + "\n"
        }
        return out
    }

    /// The `server` line of one slot (without indentation).
    public static func serverLine(_ backend: BackendConfig, _ slot: Slot) -> String {
        var words = ["server", slot.server]
        let options = backend.serverOptions.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        switch slot.state {
        case .active, .draining:
            if let address = slot.address, let port = slot.port {
                words.append(Endpoint.key(address: address, port: port))
                words += options
                // After the options, so a `weight` among them does not override the instance's.
                words += ["weight", String(slot.weight)]
                if slot.state == .draining { words.append("disabled") }
            } else {
                // Not expected (the state file rejects it), but never write a server HAProxy would refuse.
                words.append(PlaceholderAddress.endpoint)
                words += options
                words.append("disabled")
            }
        case .free:
            words.append(PlaceholderAddress.endpoint)
            words += options
            words.append("disabled")
        }
        return words.joined(separator: " ")
    }

    /// The table's slots plus template slots the config declares that the table lacks (free), by slot number.
    static func completeSlots(_ backend: BackendConfig, _ table: BackendSlots?) -> [Slot] {
        var slots = table?.slots ?? []
        let known = Set(slots.map(\.number))
        for n in 1...max(1, backend.slots) where !known.contains(n) {
            slots.append(Slot(server: backend.serverName(n), number: n))
        }
        return slots.sorted { $0.number < $1.number }
    }
}
