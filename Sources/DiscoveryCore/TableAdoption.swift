/// Reconciles the remembered slot table with what HAProxy actually has, before planning. Pure, like the planner.
public enum TableAdoption {
    /// The slot number of `server` if it is one of this backend's slots (`<prefix><N>`).
    public static func slotNumber(_ server: String, prefix: String) -> Int? {
        guard server.utf8.starts(with: prefix.utf8) else { return nil }
        let digits = server.utf8.dropFirst(prefix.utf8.count)
        guard !digits.isEmpty, digits.first != UInt8(ascii: "0") || digits.count == 1 else { return nil }
        var n = 0
        for b in digits {
            guard b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") else { return nil }
            let (times10, o1) = n.multipliedReportingOverflow(by: 10)
            let (next, o2) = times10.addingReportingOverflow(Int(b - UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            n = next
        }
        return n
    }

    /// Merges live servers into the table: with no table, every slot is adopted from HAProxy (ready → active,
    /// drain → draining, maint → free); with a table, servers HAProxy has that the table lacks (a dynamic server added
    /// just before a crash) are adopted the same way. Slots the table has are left to the planner's drift repair.
    public static func merge(config: BackendConfig, table: BackendSlots?, live: [String: LiveServer], now: Double) -> BackendSlots {
        var slots = table?.slots ?? []
        let known = Set(slots.map(\.number))
        // In slot-number order (a name maps to one number and back, so this is the order of the names' numbers).
        var numbered: [(n: Int, server: LiveServer)] = []
        numbered.reserveCapacity(live.count)
        for server in live.values {
            // (Without a table nothing is known yet, and two names never give one number: no set to ask.)
            if let n = slotNumber(server.name, prefix: config.serverPrefix), known.isEmpty || !known.contains(n) { numbered.append((n, server)) }
        }
        numbered.sort { $0.n < $1.n }
        for (n, server) in numbered {
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

    /// One slot's server as HAProxy will have it once the slot's commands succeed.
    private static func expect(_ slot: Slot, in server: inout LiveServer) {
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
    }

    /// What HAProxy will have once a plan's commands all succeed.
    public static func expectedLive(_ table: BackendSlots, previous: [String: LiveServer]) -> [String: LiveServer] {
        var live = previous
        for slot in table.slots {
            // One hash lookup a slot: the entry is changed where it lies (or made from the placeholder).
            Self.expect(slot, in: &live[slot.server, default: LiveServer.placeholder(slot.server)])
        }
        return live
    }
}
