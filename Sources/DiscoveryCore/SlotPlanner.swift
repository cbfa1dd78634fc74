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
        var commands = PlanCommands()
        var changes: [SlotChange] = []
        var missing: [String] = []
        let now = input.now

        // Template slots the config declares but the table lacks (slots raised in config) join as free.
        let known = Set(slots.map(\.number))
        for n in 1...max(1, cfg.slots) where !known.contains(n) {
            slots.append(Slot(server: cfg.serverName(n), number: n, since: now))
        }
        slots.sort { $0.number < $1.number }

        // HAProxy's server of each slot, by the slot's position: one lookup a slot for the whole plan (slots added by
        // growth below come after these and ask `input.live` themselves).
        let reported: [LiveServer?] = input.live.map { live in slots.map { live[$0.server] } } ?? []
        func reportedServer(_ i: Int) -> LiveServer? { i < reported.count ? reported[i] : input.live?[slots[i].server] }

        // Servers HAProxy lacks. A dynamic one is added again; a template one cannot be used.
        var unusable = SlotIndexSet()
        if input.live != nil {
            for i in slots.indices where reported[i] == nil {
                if slots[i].dynamic {
                    commands.append(.addServer(backend: backend, server: slots[i].server, options: cfg.serverOptions), slot: i)
                    if cfg.usesChecks { commands.append(.enableHealth(backend: backend, server: slots[i].server), slot: i) }
                    changes.append(SlotChange(kind: .repaired, server: slots[i].server, instanceID: slots[i].instanceID, detail: "re-added dynamic server"))
                } else {
                    unusable.insert(i)
                    missing.append(slots[i].server)
                }
            }
        }
        // What HAProxy has for each slot after the commands so far (re-added servers start at the placeholder in maint).
        func liveView(_ i: Int) -> LiveServer? {
            guard input.live != nil else { return nil }
            if let l = reportedServer(i) { return l }
            return slots[i].dynamic ? LiveServer.placeholder(slots[i].server) : nil
        }

        // Phase 1: match slots to desired instances; drain what is gone; free what finished draining.
        // Desired instances by position: each id's first entry counts (and is the one found by its endpoint); `placed`
        // holds the positions that have a slot.
        let desired = input.desired ?? []
        var indexByID: [String: Int] = [:]
        var indexByEndpoint: [EndpointKey: Int] = [:]
        var isFirst = [Bool](repeating: false, count: desired.count)
        var placed = SlotIndexSet()
        indexByID.reserveCapacity(desired.count)
        indexByEndpoint.reserveCapacity(desired.count)
        for k in desired.indices where indexByID.insertIfAbsent(desired[k].id, k) {
            isFirst[k] = true
            indexByEndpoint.insertIfAbsent(desired[k].endpointKey, k)
        }
        /// The desired position of the instance slot `i` holds.
        func wanted(_ i: Int) -> Int? { slots[i].instanceID.flatMap { indexByID[$0] } }

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
                if input.live != nil {
                    var built = AddressIndex(admin: slots.indices.map { liveView($0)?.admin ?? .maint })
                    for i in slots.indices where !unusable.contains(i) {
                        guard let l = liveView(i), !l.isAtPlaceholder else { continue }
                        built.record(slot: i, server: slots[i].server, endpoint: l.endpointKey)
                    }
                    return built
                }
                // The table as given (before this plan changed any slot), by each server's position.
                var position: [String: Int] = [:]
                for i in slots.indices { position[slots[i].server] = i }
                var admin = [AdminState](repeating: .maint, count: slots.count)
                for slot in input.slots.slots {
                    if let i = position[slot.server] { admin[i] = slot.state == .active ? .ready : slot.state == .draining ? .drain : .maint }
                }
                var built = AddressIndex(admin: admin)
                for slot in input.slots.slots {
                    if let ep = slot.endpointKey, let i = position[slot.server] { built.record(slot: i, server: slot.server, endpoint: ep) }
                }
                return built
            }()
            addressIndex = nil  // keeps the index uniquely referenced, so mutating it copies nothing
            body(&index)
            addressIndex = index
        }
        // Non-free slots by the endpoint the table gives them (the first one when an old table has two), built when an
        // instance moves.
        var holders: [EndpointKey: Int]?
        func holder(of endpoint: EndpointKey) -> Int? {
            if holders == nil {
                var built: [EndpointKey: Int] = [:]
                for i in slots.indices where !unusable.contains(i) && slots[i].state != .free {
                    if let ep = slots[i].endpointKey, built[ep] == nil { built[ep] = i }
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
        var afterMoves: [(action: SlotAction, slot: Int)] = []
        func match(_ k: Int, to i: Int) {
            let d = desired[k]
            placed.insert(k)
            matched.insert(i)
            var s = slots[i]
            if s.instanceID != d.id {
                changes.append(SlotChange(kind: .adopted, server: s.server, instanceID: d.id, detail: "endpoint \(d.endpoint)"))
                s.instanceID = d.id
            }
            if s.address != d.address || s.port != d.port {
                moves.append(AddressIndex.Move(slot: i, server: s.server, to: d.endpointKey))
                changes.append(SlotChange(kind: .updated, server: s.server, instanceID: d.id, detail: "endpoint \(s.endpoint ?? "-") -> \(d.endpoint)"))
                s.address = d.address
                s.port = d.port
            }
            if s.weight != d.weight {
                afterMoves.append((.setWeight(backend: backend, server: s.server, weight: d.weight), i))
                changes.append(SlotChange(kind: .updated, server: s.server, instanceID: d.id, detail: "weight \(s.weight) -> \(d.weight)"))
                s.weight = d.weight
            }
            if s.state == .draining {
                afterMoves.append((.setState(backend: backend, server: s.server, state: .ready), i))
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
                !unusable.contains(i) && slots[i].state != .free && wanted(i) != nil
            }
            var progress = true
            while progress, !pending.isEmpty {
                progress = false
                var waiting: [Int] = []
                for i in pending {
                    guard let k = wanted(i) else { continue }
                    let d = desired[k]
                    let stays = slots[i].address == d.address && slots[i].port == d.port
                    guard !stays, let j = holder(of: d.endpointKey), j != i, !matched.contains(j) else {
                        // Its address is free, its own, or held by a slot whose instance moves away: moved in place.
                        match(k, to: i)
                        progress = true
                        continue
                    }
                    if let owner = wanted(j), !placed.contains(owner) {
                        waiting.append(i)
                        continue
                    }
                    // The slot holding its new address lost its instance: take it rather than share the address.
                    match(k, to: j)
                    progress = true
                }
                pending = waiting
            }
            // What is left waits in a cycle (instances swapping addresses): each stays on its slot, moves are ordered.
            for i in pending {
                if let k = wanted(i) { match(k, to: i) }
            }
            for i in slots.indices where !unusable.contains(i) && slots[i].state != .free && !matched.contains(i) {
                guard let ep = slots[i].endpointKey, let k = indexByEndpoint[ep], !placed.contains(k) else { continue }
                match(k, to: i)
            }
        }
        // A slot left behind by an instance that took the slot holding its new address drains without a name, so the
        // instance is never on two slots.
        for i in slots.indices where !matched.contains(i) && slots[i].state != .free {
            if let k = wanted(i), placed.contains(k) { slots[i].instanceID = nil }
        }
        if !moves.isEmpty { withAddresses { $0.apply(moves, backend: backend, to: &commands) } }
        for (action, i) in afterMoves { commands.append(action, slot: i) }

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
        var freedNow = SlotIndexSet()
        // Draining slots whose sessions reached 0, or whose deadline passed, go to maint and become free. Sessions
        // count only for slots already draining: a count read before this drain began says nothing about it.
        for i in slots.indices where !unusable.contains(i) && slots[i].state == .draining {
            let s = slots[i]
            let sessionsDone = drainsLast[i] == nil && input.sessions[s.server] == 0
            let deadlinePassed = now >= (s.drainDeadline ?? now)
            guard sessionsDone || deadlinePassed else { continue }
            if let drain = drainsLast.removeValue(forKey: i) { commands.append(drain, slot: i) }
            commands.append(.setState(backend: backend, server: s.server, state: .maint), slot: i)
            freedNow.insert(i)
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
        if input.desired != nil {
            let newcomers = desired.indices.filter { isFirst[$0] && !placed.contains($0) }.sorted { desired[$0].id < desired[$1].id }
            var freeSlots = slots.indices.filter { !unusable.contains($0) && slots[$0].state == .free }
            var cursor = 0
            for k in newcomers {
                let d = desired[k]
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
                        commands.append(.addServer(backend: backend, server: name, options: cfg.serverOptions), slot: slots.count)
                        if cfg.usesChecks { commands.append(.enableHealth(backend: backend, server: name), slot: slots.count) }
                        changes.append(SlotChange(kind: .added, server: name, instanceID: nil, detail: "growth step of \(step)"))
                        slots.append(Slot(server: name, number: n, dynamic: true, since: now))
                        freeSlots.append(slots.count - 1)
                    }
                }
                // The free slot HAProxy still has at this address (a table from before placeholders) avoids a duplicate.
                let key = d.endpointKey
                var held: Int?
                withAddresses { held = $0.holder(at: key) }
                if let held, let k = freeSlots[cursor...].firstIndex(of: held) {
                    freeSlots.swapAt(cursor, k)
                }
                let i = freeSlots[cursor]
                cursor += 1
                var s = slots[i]
                withAddresses { $0.apply(AddressIndex.Move(slot: i, server: s.server, to: key), backend: backend, to: &commands) }
                // The weight HAProxy has, not the table's: a free slot's remembered weight is not kept in sync (a
                // restart or an `add server` resets it to 1 while the table keeps the last occupant's). Unknown live
                // state always sends it; a matching one saves a command per instance (a third of a cold sync).
                // (Only a server HAProxy reported counts: a just-added one may carry a `weight` from server_options.)
                if reportedServer(i)?.weight != d.weight {
                    commands.append(.setWeight(backend: backend, server: s.server, weight: d.weight), slot: i)
                }
                commands.append(.setState(backend: backend, server: s.server, state: .ready), slot: i)
                changes.append(SlotChange(kind: .assigned, server: s.server, instanceID: d.id, endpoint: key))
                s.state = .active
                s.instanceID = d.id
                s.address = d.address
                s.port = d.port
                s.weight = d.weight
                s.since = now
                s.drainDeadline = nil
                slots[i] = s
                placed.insert(k)
            }
        }

        // A free slot goes back to the placeholder, so its old address is never on two servers when it comes back.
        for i in slots.indices where !unusable.contains(i) && slots[i].state == .free {
            let stale: Bool
            if let index = addressIndex {
                stale = index.endpoint(of: i).map { !$0.isPlaceholder } ?? false
            } else if input.live != nil {
                stale = liveView(i).map { !$0.isAtPlaceholder } ?? false
            } else {
                stale = slots[i].address != nil
            }
            slots[i].address = nil
            slots[i].port = nil
            guard stale else { continue }
            let server = slots[i].server
            // Out of rotation first (a worker reloaded from a file one batch behind may serve it): a request must
            // never reach the placeholder. A slot freed in this plan already went to maint above.
            if !freedNow.contains(i), let l = liveView(i), l.admin != .maint {
                commands.append(.setState(backend: backend, server: server, state: .maint), slot: i)
            }
            withAddresses { $0.apply(AddressIndex.Move(slot: i, server: server, to: .placeholder), backend: backend, to: &commands) }
            if !freedNow.contains(i) {
                changes.append(SlotChange(kind: .repaired, server: server, instanceID: nil, detail: "free slot back to the placeholder"))
            }
        }

        for (i, drain) in drainsLast.sorted(by: { $0.key < $1.key }) { commands.append(drain, slot: i) }

        // Phase 3: repair drift between the table and HAProxy: what HAProxy will have after the commands so far
        // (its live view, then this plan's moves and states) against the table.
        if input.live != nil {
            let done = commands.commanded
            func commanded(_ i: Int, _ aspect: SlotAction.Aspect) -> Bool { i < done.count && done[i] & Self.bit(aspect) != 0 }
            let start = commands.list.count
            // Addresses first and together: a slot that needs an address another slot is repaired away from waits for
            // it, rather than parking that slot at the placeholder. (A slot parked there earlier in the plan, to free
            // an address, comes back here.)
            var repairMoves: [AddressIndex.Move] = []
            for i in slots.indices where slots[i].state != .free {
                guard let l = liveView(i), let a = slots[i].address, let p = slots[i].port else { continue }
                let wanted = EndpointKey(address: a, port: p)
                let current = addressIndex.map { $0.endpoint(of: i) ?? .placeholder } ?? l.endpointKey
                if current != wanted { repairMoves.append(AddressIndex.Move(slot: i, server: slots[i].server, to: wanted)) }
            }
            if !repairMoves.isEmpty { withAddresses { $0.apply(repairMoves, backend: backend, to: &commands) } }
            for i in slots.indices {
                let s = slots[i]
                guard let l = liveView(i) else { continue }
                let want: AdminState
                switch s.state {
                case .free:
                    want = .maint
                case .active, .draining:
                    if l.weight != s.weight, !commanded(i, .weight) {
                        commands.append(.setWeight(backend: backend, server: s.server, weight: s.weight), slot: i)
                    }
                    want = s.state == .active ? .ready : .drain
                }
                if (commands.state(of: i) ?? l.admin) != want {
                    commands.append(.setState(backend: backend, server: s.server, state: want), slot: i)
                }
            }
            if commands.list.count > start {
                // One change a repaired slot, in slot order, naming its repairs.
                var repairs = [[String]](repeating: [], count: slots.count)
                for k in start..<commands.list.count where commands.owners[k] < slots.count { repairs[commands.owners[k]].append(commands.list[k].summary) }
                for i in slots.indices where !repairs[i].isEmpty {
                    changes.append(SlotChange(kind: .repaired, server: slots[i].server, instanceID: slots[i].instanceID, detail: repairs[i].joined(separator: "; ")))
                }
            }
        }

        return BackendPlan(
            backend: backend, commands: commands.list, slots: BackendSlots(backend: backend, slots: slots),
            unslotted: unslotted, changes: changes, missingServers: missing
        )
    }
}

/// The commands of a plan, with the slot each one is for and what each slot's commands set so far (one bit per aspect,
/// the last state commanded), by slot position: drift repair asks "already commanded?" without hashing a server name
/// per command.
struct PlanCommands {
    private(set) var list: [SlotAction] = []
    /// The slot position of each command of `list`.
    private(set) var owners: [Int] = []
    /// By slot position: the aspects commanded so far.
    private(set) var commanded: [UInt8] = []
    private var states: [AdminState?] = []

    mutating func append(_ action: SlotAction, slot: Int) {
        list.append(action)
        owners.append(slot)
        guard slot >= 0 else { return }
        if slot >= commanded.count {
            commanded.append(contentsOf: repeatElement(0, count: slot - commanded.count + 1))
            states.append(contentsOf: repeatElement(nil, count: slot - states.count + 1))
        }
        commanded[slot] |= SlotPlanner.bit(action.aspect)
        if case .setState(_, _, let state) = action { states[slot] = state }
    }

    /// The last state commanded for slot `slot` so far, if any.
    func state(of slot: Int) -> AdminState? { slot >= 0 && slot < states.count ? states[slot] : nil }
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

extension Dictionary {
    /// Adds `value` under `key` unless the key is there already, in one hash lookup; true when it was added.
    @discardableResult
    mutating func insertIfAbsent(_ key: Key, _ value: @autoclosure () -> Value) -> Bool {
        var added = false
        Self.touch(&self[key, default: { added = true; return value() }()])
        return added
    }

    private static func touch(_: inout Value) {}
}
