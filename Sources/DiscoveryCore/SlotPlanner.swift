/// Maps desired instances onto server slots. Pure: the same input always gives the same plan.
///
/// Rules: an instance keeps its slot; a new instance takes the lowest free slot; a gone instance drains and its
/// slot is freed (`maint`) only once its sessions reach 0 or its drain deadline passes; a draining slot is never
/// reused; when slots run out, `add_server` growth adds `increment` servers at a time up to `max_slots`.
/// Live state that differs from the table (HAProxy restarted, someone changed a server by hand) is repaired.
///
/// No address is ever on two servers (HAProxy's `srvkey addr` index keeps only the first, see `AddressIndex`): a
/// free slot sits at the placeholder, address moves are ordered, and an instance whose new address is held by a slot
/// whose instance is gone takes that slot. New instances of one batch take free slots in instance-id order, so two
/// bridges fed the same snapshots build identical tables (the slot names of an HA pair agree).
public enum SlotPlanner {
    static func bit(_ aspect: SlotAction.Aspect) -> UInt8 {
        switch aspect {
        case .address: 1
        case .state: 2
        case .weight: 4
        case .existence: 8
        case .health: 16
        }
    }

    public static func plan(_ input: PlannerInput) -> BackendPlan {
        let cfg = input.backend
        let backend = cfg.name
        var slots = input.slots.slots
        var commands: [SlotAction] = []
        var changes: [SlotChange] = []
        var missing: [String] = []
        let now = input.now

        // Template slots the config declares but the table lacks (slots raised in config) join as free.
        let known = Set(slots.map(\.number))
        for n in 1...max(1, cfg.slots) where !known.contains(n) {
            slots.append(Slot(server: cfg.serverName(n), number: n, since: now))
        }
        slots.sort { $0.number < $1.number }

        // Servers HAProxy lacks. A dynamic one is added again; a template one cannot be used.
        var unusable = SlotIndexSet()
        if let live = input.live {
            for i in slots.indices where live[slots[i].server] == nil {
                if slots[i].dynamic {
                    commands.append(.addServer(backend: backend, server: slots[i].server, options: cfg.serverOptions))
                    if cfg.usesChecks { commands.append(.enableHealth(backend: backend, server: slots[i].server)) }
                    changes.append(SlotChange(kind: .repaired, server: slots[i].server, instanceID: slots[i].instanceID, detail: "re-added dynamic server"))
                } else {
                    unusable.insert(i)
                    missing.append(slots[i].server)
                }
            }
        }
        // What HAProxy has for each slot after the commands so far (re-added servers start at the placeholder in maint).
        func liveView(_ slot: Slot) -> LiveServer? {
            guard let live = input.live else { return nil }
            if let l = live[slot.server] { return l }
            return slot.dynamic ? LiveServer.placeholder(slot.server) : nil
        }

        // Phase 1: match slots to desired instances; drain what is gone; free what finished draining.
        var desiredByID: [String: DesiredInstance] = [:]
        var desiredByEndpoint: [String: DesiredInstance] = [:]
        var placed = Set<String>()
        if let desired = input.desired {
            desiredByID.reserveCapacity(desired.count)
            desiredByEndpoint.reserveCapacity(desired.count)
            placed.reserveCapacity(desired.count)
            for d in desired where desiredByID[d.id] == nil {
                desiredByID[d.id] = d
                if desiredByEndpoint[d.endpoint] == nil { desiredByEndpoint[d.endpoint] = d }
            }
        }

        // A template slot HAProxy lacks holds nothing: its instance is placed elsewhere.
        for i in unusable.sorted() where slots[i].state != .free {
            changes.append(SlotChange(kind: .missing, server: slots[i].server, instanceID: slots[i].instanceID, detail: "server not in HAProxy"))
            slots[i] = Slot(server: slots[i].server, number: slots[i].number, dynamic: slots[i].dynamic, since: now)
        }

        // Where each server's address is now, HAProxy's live view when known, else the table as given. HAProxy indexes
        // servers by `ip:port` for `srvkey addr` and keeps only the first server at an address, so every address move
        // goes through this index and no address is ever on two servers, not even between two commands. Built on first
        // use: a plan without moves (the steady state) never pays for it.
        var addressIndex: AddressIndex?
        func withAddresses(_ body: (inout AddressIndex) -> Void) {
            var index = addressIndex ?? {
                var built = AddressIndex()
                if input.live != nil {
                    for i in slots.indices where !unusable.contains(i) {
                        guard let l = liveView(slots[i]), !l.isAtPlaceholder else { continue }
                        built.record(server: slots[i].server, endpoint: Endpoint.key(address: l.address, port: l.port))
                    }
                } else {
                    for slot in input.slots.slots { if let ep = slot.endpoint { built.record(server: slot.server, endpoint: ep) } }
                }
                return built
            }()
            addressIndex = nil  // keeps the index uniquely referenced, so mutating it copies nothing
            body(&index)
            addressIndex = index
        }
        // Non-free slots by the endpoint the table gives them (the first one when an old table has two), built when an
        // instance moves.
        var holders: [String: Int]?
        func holder(of endpoint: String) -> Int? {
            if holders == nil {
                var built: [String: Int] = [:]
                for i in slots.indices where !unusable.contains(i) && slots[i].state != .free {
                    if let ep = slots[i].endpoint, built[ep] == nil { built[ep] = i }
                }
                holders = built
            }
            return holders?[endpoint]
        }

        // First pass by id, second by endpoint (adoption of unrecorded or re-identified instances). An instance whose new
        // endpoint is still held by a slot whose instance is gone takes that slot (the second pass) rather than putting
        // the address on two servers; the slot it leaves drains.
        var matched = SlotIndexSet()
        var moves: [AddressIndex.Move] = []
        var afterMoves: [SlotAction] = []
        func match(_ d: DesiredInstance, to i: Int) {
            placed.insert(d.id)
            matched.insert(i)
            var s = slots[i]
            if s.instanceID != d.id {
                changes.append(SlotChange(kind: .adopted, server: s.server, instanceID: d.id, detail: "endpoint \(d.endpoint)"))
                s.instanceID = d.id
            }
            if s.address != d.address || s.port != d.port {
                moves.append(AddressIndex.Move(server: s.server, address: d.address, port: d.port))
                changes.append(SlotChange(kind: .updated, server: s.server, instanceID: d.id, detail: "endpoint \(s.endpoint ?? "-") -> \(d.endpoint)"))
                s.address = d.address
                s.port = d.port
            }
            if s.weight != d.weight {
                afterMoves.append(.setWeight(backend: backend, server: s.server, weight: d.weight))
                changes.append(SlotChange(kind: .updated, server: s.server, instanceID: d.id, detail: "weight \(s.weight) -> \(d.weight)"))
                s.weight = d.weight
            }
            if s.state == .draining {
                afterMoves.append(.setState(backend: backend, server: s.server, state: .ready))
                changes.append(SlotChange(kind: .reactivated, server: s.server, instanceID: d.id, detail: ""))
                s.state = .active
                s.since = now
                s.drainDeadline = nil
            }
            slots[i] = s
        }
        if input.desired != nil {
            // By id, until every instance is decided: one moving onto an address whose slot is still deciding waits.
            var pending = slots.indices.filter { i in
                !unusable.contains(i) && slots[i].state != .free && slots[i].instanceID.flatMap { desiredByID[$0] } != nil
            }
            var progress = true
            while progress, !pending.isEmpty {
                progress = false
                var waiting: [Int] = []
                for i in pending {
                    guard let id = slots[i].instanceID, let d = desiredByID[id] else { continue }
                    let stays = slots[i].address == d.address && slots[i].port == d.port
                    guard !stays, let j = holder(of: d.endpoint), j != i, !matched.contains(j) else {
                        // Its address is free, its own, or held by a slot whose instance moves away: moved in place.
                        match(d, to: i)
                        progress = true
                        continue
                    }
                    if let owner = slots[j].instanceID.flatMap({ desiredByID[$0] }), !placed.contains(owner.id) {
                        waiting.append(i)
                        continue
                    }
                    // The slot holding its new address lost its instance: take it rather than share the address.
                    match(d, to: j)
                    progress = true
                }
                pending = waiting
            }
            // What is left waits in a cycle (instances swapping addresses): each stays on its slot, moves are ordered.
            for i in pending {
                if let id = slots[i].instanceID, let d = desiredByID[id] { match(d, to: i) }
            }
            for i in slots.indices where !unusable.contains(i) && slots[i].state != .free && !matched.contains(i) {
                guard let ep = slots[i].endpoint, let d = desiredByEndpoint[ep], !placed.contains(d.id) else { continue }
                match(d, to: i)
            }
        }
        // A slot left behind by an instance that took the slot holding its new address drains without a name, so the
        // instance is never on two slots.
        for i in slots.indices where !matched.contains(i) && slots[i].state != .free {
            if let id = slots[i].instanceID, placed.contains(id) { slots[i].instanceID = nil }
        }
        if !moves.isEmpty { withAddresses { $0.apply(moves, backend: backend, to: &commands) } }
        commands.append(contentsOf: afterMoves)

        // Drains start after the newcomers are ready (sent at the end of the batch), so a swap never leaves the
        // backend without a server taking new connections, not even between two commands.
        var drainsLast: [Int: SlotAction] = [:]
        if input.desired != nil {
            for i in slots.indices where !unusable.contains(i) {
                var s = slots[i]
                if s.state == .active, !matched.contains(i) {
                    s.state = .draining
                    s.since = now
                    s.drainDeadline = now + cfg.drainTimeout.seconds
                    drainsLast[i] = .setState(backend: backend, server: s.server, state: .drain)
                    changes.append(SlotChange(kind: .draining, server: s.server, instanceID: s.instanceID, detail: "instance gone"))
                    slots[i] = s
                }
            }
        }
        var freedNow = Set<String>()
        // Draining slots whose sessions reached 0, or whose deadline passed, go to maint and become free. Sessions
        // count only for slots already draining: a count read before this drain began says nothing about it.
        for i in slots.indices where !unusable.contains(i) && slots[i].state == .draining {
            let s = slots[i]
            let sessionsDone = drainsLast[i] == nil && input.sessions[s.server] == 0
            let deadlinePassed = now >= (s.drainDeadline ?? now)
            guard sessionsDone || deadlinePassed else { continue }
            if let drain = drainsLast.removeValue(forKey: i) { commands.append(drain) }
            commands.append(.setState(backend: backend, server: s.server, state: .maint))
            freedNow.insert(s.server)
            changes.append(SlotChange(kind: .freed, server: s.server, instanceID: s.instanceID, detail: sessionsDone ? "sessions reached 0" : "drain timeout"))
            var freed = s
            freed.state = .free
            freed.instanceID = nil
            freed.since = now
            freed.drainDeadline = nil
            slots[i] = freed
        }

        // Phase 2: place new instances on the lowest free slots, growing the backend when allowed.
        var unslotted: [DesiredInstance] = []
        if let desired = input.desired {
            let newcomers = desired.filter { !placed.contains($0.id) && desiredByID[$0.id] == $0 }.sorted { $0.id < $1.id }
            var freeSlots = slots.indices.filter { !unusable.contains($0) && slots[$0].state == .free }
            var cursor = 0
            for d in newcomers {
                if cursor >= freeSlots.count {
                    // Out of slots: grow by one step if the policy allows.
                    guard cfg.growth.mode == .addServer, slots.count - unusable.count < cfg.growth.maxSlots else {
                        unslotted.append(d)
                        continue
                    }
                    let highest = slots.map(\.number).max() ?? 0
                    let room = cfg.growth.maxSlots - (slots.count - unusable.count)
                    let step = min(cfg.growth.increment, room)
                    for k in 1...step {
                        let n = highest + k
                        let name = cfg.serverName(n)
                        commands.append(.addServer(backend: backend, server: name, options: cfg.serverOptions))
                        if cfg.usesChecks { commands.append(.enableHealth(backend: backend, server: name)) }
                        changes.append(SlotChange(kind: .added, server: name, instanceID: nil, detail: "growth step of \(step)"))
                        slots.append(Slot(server: name, number: n, dynamic: true, since: now))
                        freeSlots.append(slots.count - 1)
                    }
                }
                // The free slot HAProxy still has at this address (a table from before placeholders) avoids a duplicate.
                var held: String?
                withAddresses { held = $0.server(at: d.endpoint) }
                if let held, let k = freeSlots[cursor...].firstIndex(where: { slots[$0].server == held }) {
                    freeSlots.swapAt(cursor, k)
                }
                let i = freeSlots[cursor]
                cursor += 1
                var s = slots[i]
                withAddresses { $0.apply([AddressIndex.Move(server: s.server, address: d.address, port: d.port)], backend: backend, to: &commands) }
                // The weight HAProxy has, not the table's: a free slot's remembered weight is not kept in sync (a
                // restart or an `add server` resets it to 1 while the table keeps the last occupant's). Unknown live
                // state always sends it; a matching one saves a command per instance (a third of a cold sync).
                // (Only a server HAProxy reported counts: a just-added one may carry a `weight` from server_options.)
                if input.live?[s.server]?.weight != d.weight {
                    commands.append(.setWeight(backend: backend, server: s.server, weight: d.weight))
                }
                commands.append(.setState(backend: backend, server: s.server, state: .ready))
                changes.append(SlotChange(kind: .assigned, server: s.server, instanceID: d.id, detail: d.endpoint))
                s.state = .active
                s.instanceID = d.id
                s.address = d.address
                s.port = d.port
                s.weight = d.weight
                s.since = now
                s.drainDeadline = nil
                slots[i] = s
                placed.insert(d.id)
            }
        }

        // A free slot goes back to the placeholder, so its old address is never on two servers when it comes back.
        for i in slots.indices where !unusable.contains(i) && slots[i].state == .free {
            let stale: Bool
            if let index = addressIndex {
                stale = index.endpoint(of: slots[i].server).map { $0 != PlaceholderAddress.endpoint } ?? false
            } else if input.live != nil {
                stale = liveView(slots[i]).map { !$0.isAtPlaceholder } ?? false
            } else {
                stale = slots[i].address != nil
            }
            slots[i].address = nil
            slots[i].port = nil
            guard stale else { continue }
            let server = slots[i].server
            withAddresses { $0.apply([AddressIndex.Move(server: server, address: PlaceholderAddress.host, port: PlaceholderAddress.port)], backend: backend, to: &commands) }
            if !freedNow.contains(server) {
                changes.append(SlotChange(kind: .repaired, server: server, instanceID: nil, detail: "free slot back to the placeholder"))
            }
        }

        commands.append(contentsOf: drainsLast.sorted { $0.key < $1.key }.map(\.value))

        // Phase 3: repair drift between the table and HAProxy for slots this plan did not already command.
        if input.live != nil {
            // What this plan already commands, per server: one bit per aspect (no key string per command).
            var commanded: [String: UInt8] = [:]
            commanded.reserveCapacity(slots.count)
            for c in commands { commanded[c.server, default: 0] |= Self.bit(c.aspect) }
            for s in slots {
                guard let l = liveView(s) else { continue }
                var repairs: [SlotAction] = []
                let done = commanded[s.server] ?? 0
                switch s.state {
                case .free:
                    if l.admin != .maint, done & Self.bit(.state) == 0 {
                        repairs.append(.setState(backend: backend, server: s.server, state: .maint))
                    }
                case .active, .draining:
                    if let a = s.address, let p = s.port, l.address != a || l.port != p, done & Self.bit(.address) == 0 {
                        withAddresses { $0.apply([AddressIndex.Move(server: s.server, address: a, port: p)], backend: backend, to: &repairs) }
                    }
                    if l.weight != s.weight, done & Self.bit(.weight) == 0 {
                        repairs.append(.setWeight(backend: backend, server: s.server, weight: s.weight))
                    }
                    let want: AdminState = s.state == .active ? .ready : .drain
                    if l.admin != want, done & Self.bit(.state) == 0 {
                        repairs.append(.setState(backend: backend, server: s.server, state: want))
                    }
                }
                if !repairs.isEmpty {
                    commands.append(contentsOf: repairs)
                    changes.append(SlotChange(kind: .repaired, server: s.server, instanceID: s.instanceID, detail: repairs.map(\.summary).joined(separator: "; ")))
                }
            }
        }

        return BackendPlan(
            backend: backend, commands: commands, slots: BackendSlots(backend: backend, slots: slots),
            unslotted: unslotted, changes: changes, missingServers: missing
        )
    }
}

/// Slot indices as flags: the planner asks "is slot i in it" for every slot in every phase, and a hash per question
/// was a tenth of a cold sync's planning.
struct SlotIndexSet {
    private var flags: [Bool] = []
    private(set) var count = 0

    func contains(_ i: Int) -> Bool { i >= 0 && i < flags.count && flags[i] }

    mutating func insert(_ i: Int) {
        guard i >= 0 else { return }
        if i >= flags.count { flags.append(contentsOf: repeatElement(false, count: i - flags.count + 1)) }
        if !flags[i] {
            flags[i] = true
            count += 1
        }
    }

    /// The members in ascending order.
    func sorted() -> [Int] { flags.indices.filter { flags[$0] } }
}
