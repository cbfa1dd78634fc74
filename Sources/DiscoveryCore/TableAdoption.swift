/// Reconciles the remembered slot table with what HAProxy actually has, before planning. Pure, like the planner.
public enum TableAdoption {
    /// The slot number of `server` if it is one of this backend's slots (`<prefix><N>`).
    public static func slotNumber(_ server: String, prefix: String) -> Int? {
        guard server.hasPrefix(prefix) else { return nil }
        let digits = server.dropFirst(prefix.count)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), digits.first != "0" || digits.count == 1 else { return nil }
        return Int(digits)
    }

    /// Merges live servers into the table: with no table, every slot is adopted from HAProxy (ready → active,
    /// drain → draining, maint → free); with a table, servers HAProxy has that the table lacks (a dynamic server added
    /// just before a crash) are adopted the same way. Slots the table has are left to the planner's drift repair.
    public static func merge(config: BackendConfig, table: BackendSlots?, live: [String: LiveServer], now: Double) -> BackendSlots {
        var slots = table?.slots ?? []
        var known = Set(slots.map(\.number))
        for server in live.values.sorted(by: { $0.name < $1.name }) {
            guard let n = slotNumber(server.name, prefix: config.serverPrefix), !known.contains(n) else { continue }
            known.insert(n)
            var slot = Slot(server: server.name, number: n, dynamic: n > config.slots, weight: server.weight, since: now)
            let placeholder = server.address == PlaceholderAddress.host && server.port == PlaceholderAddress.port
            switch server.admin {
            case .ready where !placeholder:
                slot.state = .active
                slot.address = server.address
                slot.port = server.port
            case .drain where !placeholder:
                slot.state = .draining
                slot.address = server.address
                slot.port = server.port
                slot.drainDeadline = now + config.drainTimeout.seconds
            default:
                slot.state = .free
            }
            slots.append(slot)
        }
        return BackendSlots(backend: config.name, slots: slots)
    }

    /// What HAProxy will have once a plan's commands all succeed.
    public static func expectedLive(_ table: BackendSlots, previous: [String: LiveServer]) -> [String: LiveServer] {
        var live = previous
        for slot in table.slots {
            var server = previous[slot.server] ?? LiveServer.placeholder(slot.server)
            switch slot.state {
            case .free:
                server.admin = .maint
                server.address = PlaceholderAddress.host
                server.port = PlaceholderAddress.port
            case .active, .draining:
                if let a = slot.address, let p = slot.port {
                    server.address = a
                    server.port = p
                }
                server.weight = slot.weight
                server.admin = slot.state == .active ? .ready : .drain
            }
            live[slot.server] = server
        }
        return live
    }
}
