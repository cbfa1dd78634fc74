/// Maps desired instances onto server slots. Pure: the same input always gives the same plan.
///
/// Rules: an instance keeps its slot; a new instance takes the lowest free slot; a gone instance drains and its
/// slot is freed (`maint`) only once its sessions reach 0 or its drain deadline passes; a draining slot is never
/// reused; when slots run out, `add_server` growth adds `increment` servers at a time up to `max_slots`.
/// Live state that differs from the table (HAProxy restarted, someone changed a server by hand) is repaired.
public enum SlotPlanner {
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
        var unusable = Set<Int>()
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
        if let desired = input.desired {
            for d in desired where desiredByID[d.id] == nil {
                desiredByID[d.id] = d
                if desiredByEndpoint[d.endpoint] == nil { desiredByEndpoint[d.endpoint] = d }
            }
        }
        var placed = Set<String>()

        // A template slot HAProxy lacks holds nothing: its instance is placed elsewhere.
        for i in unusable.sorted() where slots[i].state != .free {
            changes.append(SlotChange(kind: .missing, server: slots[i].server, instanceID: slots[i].instanceID, detail: "server not in HAProxy"))
            slots[i] = Slot(server: slots[i].server, number: slots[i].number, dynamic: slots[i].dynamic, since: now)
        }

        // First pass by id, second by endpoint (adoption of unrecorded or re-identified instances).
        for pass in 0..<2 {
            for i in slots.indices where !unusable.contains(i) && slots[i].state != .free {
                let slot = slots[i]
                guard input.desired != nil else { continue }
                var match: DesiredInstance?
                if pass == 0, let id = slot.instanceID, let d = desiredByID[id], !placed.contains(d.id) {
                    match = d
                } else if pass == 1, !(slot.instanceID.map { placed.contains($0) } ?? false), let ep = slot.endpoint,
                          let d = desiredByEndpoint[ep], !placed.contains(d.id), slot.instanceID.flatMap({ desiredByID[$0] }) == nil {
                    match = d
                }
                guard let d = match else { continue }
                placed.insert(d.id)
                var s = slot
                if s.instanceID != d.id {
                    changes.append(SlotChange(kind: .adopted, server: s.server, instanceID: d.id, detail: "endpoint \(d.endpoint)"))
                    s.instanceID = d.id
                }
                if s.address != d.address || s.port != d.port {
                    commands.append(.setAddress(backend: backend, server: s.server, address: d.address, port: d.port))
                    changes.append(SlotChange(kind: .updated, server: s.server, instanceID: d.id, detail: "endpoint \(s.endpoint ?? "-") -> \(d.endpoint)"))
                    s.address = d.address
                    s.port = d.port
                }
                if s.weight != d.weight {
                    commands.append(.setWeight(backend: backend, server: s.server, weight: d.weight))
                    changes.append(SlotChange(kind: .updated, server: s.server, instanceID: d.id, detail: "weight \(s.weight) -> \(d.weight)"))
                    s.weight = d.weight
                }
                if s.state == .draining {
                    commands.append(.setState(backend: backend, server: s.server, state: .ready))
                    changes.append(SlotChange(kind: .reactivated, server: s.server, instanceID: d.id, detail: ""))
                    s.state = .active
                    s.since = now
                    s.drainDeadline = nil
                }
                slots[i] = s
            }
        }

        // Drains start after the newcomers are ready (sent at the end of the batch), so a swap never leaves the
        // backend without a server taking new connections, not even between two commands.
        var drainsLast: [Int: SlotAction] = [:]
        if input.desired != nil {
            for i in slots.indices where !unusable.contains(i) {
                var s = slots[i]
                if s.state == .active, !(s.instanceID.map { placed.contains($0) } ?? false) {
                    s.state = .draining
                    s.since = now
                    s.drainDeadline = now + cfg.drainTimeout.seconds
                    drainsLast[i] = .setState(backend: backend, server: s.server, state: .drain)
                    changes.append(SlotChange(kind: .draining, server: s.server, instanceID: s.instanceID, detail: "instance gone"))
                    slots[i] = s
                }
            }
        }
        // Draining slots whose sessions reached 0, or whose deadline passed, go to maint and become free. Sessions
        // count only for slots already draining: a count read before this drain began says nothing about it.
        for i in slots.indices where !unusable.contains(i) && slots[i].state == .draining {
            let s = slots[i]
            let sessionsDone = drainsLast[i] == nil && input.sessions[s.server] == 0
            let deadlinePassed = now >= (s.drainDeadline ?? now)
            guard sessionsDone || deadlinePassed else { continue }
            if let drain = drainsLast.removeValue(forKey: i) { commands.append(drain) }
            commands.append(.setState(backend: backend, server: s.server, state: .maint))
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
                let i = freeSlots[cursor]
                cursor += 1
                var s = slots[i]
                commands.append(.setAddress(backend: backend, server: s.server, address: d.address, port: d.port))
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

        commands.append(contentsOf: drainsLast.sorted { $0.key < $1.key }.map(\.value))

        // Phase 3: repair drift between the table and HAProxy for slots this plan did not already command.
        if input.live != nil {
            var commanded = Set<String>()
            for c in commands { commanded.insert("\(c.server)|\(c.aspect.rawValue)") }
            for s in slots {
                guard let l = liveView(s) else { continue }
                var repairs: [SlotAction] = []
                switch s.state {
                case .free:
                    if l.admin != .maint, !commanded.contains("\(s.server)|state") {
                        repairs.append(.setState(backend: backend, server: s.server, state: .maint))
                    }
                case .active, .draining:
                    if let a = s.address, let p = s.port, l.address != a || l.port != p, !commanded.contains("\(s.server)|address") {
                        repairs.append(.setAddress(backend: backend, server: s.server, address: a, port: p))
                    }
                    if l.weight != s.weight, !commanded.contains("\(s.server)|weight") {
                        repairs.append(.setWeight(backend: backend, server: s.server, weight: s.weight))
                    }
                    let want: AdminState = s.state == .active ? .ready : .drain
                    if l.admin != want, !commanded.contains("\(s.server)|state") {
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
