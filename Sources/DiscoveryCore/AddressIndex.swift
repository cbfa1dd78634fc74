/// HAProxy's view of which server holds which `ip:port`, kept while a plan is built, so that no address is ever on two
/// servers at once.
///
/// HAProxy 2.6 indexes a backend's servers by `ip:port` (`used_server_addr`, a unique tree in proxy.c) for
/// `srvkey addr` stick tables, and keeps only the first server at an address: a second server given the same address
/// stays out of the index until its address changes again, so a synced stick entry for that address reaches the wrong
/// server (or none). Every `set server … addr` the planner emits goes through `apply`, which orders the moves so that an
/// address is set only once its previous holder has left it, and breaks a cycle (two servers swapping addresses) by
/// sending one of them to the placeholder first.
///
/// Servers are known by their slot's position in the planner's slot list (an array a slot, no name hashed); addresses
/// by `EndpointKey` (no `address:port` text written).
struct AddressIndex {
    /// One `set server … addr` the planner wants: slot `slot` (server `server`) to `to`.
    struct Move {
        var slot: Int
        var server: String
        var to: EndpointKey
    }

    /// Where each slot is now, and its server's name, by slot position.
    private var endpointOf: [EndpointKey?] = []
    private var names: [String?] = []
    private var holderAt: [EndpointKey: Int] = [:]
    /// Each slot's admin state before the plan (a slot past the end is one the plan adds: in maint).
    private let admin: [AdminState]

    /// `admin`: each slot's admin state before the plan's commands, by slot position.
    init(admin: [AdminState]) {
        self.admin = admin
        endpointOf.reserveCapacity(admin.count)
        names.reserveCapacity(admin.count)
        holderAt.reserveCapacity(admin.count)
    }

    /// Records where slot `slot` (server `server`) is now (before any command of the plan).
    mutating func record(slot: Int, server: String, endpoint: EndpointKey) {
        remember(slot, server, endpoint)
        if !endpoint.isPlaceholder, holderAt[endpoint] == nil { holderAt[endpoint] = slot }
    }

    func endpoint(of slot: Int) -> EndpointKey? { slot < endpointOf.count ? endpointOf[slot] : nil }

    /// The slot holding `endpoint` (never the placeholder, which every free server shares).
    func holder(at endpoint: EndpointKey) -> Int? { holderAt[endpoint] }

    /// Appends to `out` the commands that carry out `moves` without two servers sharing an address between any two.
    ///
    /// When every remaining move waits on another's address (a cycle, or a holder that does not move), one address is
    /// freed through the placeholder, its server out of rotation first (no request may reach the placeholder, not
    /// even between two commands); a server so parked that then moves on is put back in the state it had.
    mutating func apply(_ moves: [Move], backend: String, to out: inout PlanCommands) {
        var queue = moves
        var parked: [(slot: Int, state: AdminState)] = []
        while !queue.isEmpty {
            var blocked: [Move] = []
            for m in queue {
                if let holder = holderAt[m.to], holder != m.slot, !m.to.isPlaceholder {
                    blocked.append(m)
                    continue
                }
                out.append(set(m, backend: backend), slot: m.slot)
                if let k = parked.firstIndex(where: { $0.slot == m.slot }) {
                    out.append(.setState(backend: backend, server: m.server, state: parked.remove(at: k).state), slot: m.slot)
                }
            }
            if blocked.count == queue.count, let first = blocked.first, let holder = holderAt[first.to], let name = names[holder] {
                let state = out.state(of: holder) ?? (holder < admin.count ? admin[holder] : .maint)
                if state != .maint {
                    out.append(.setState(backend: backend, server: name, state: .maint), slot: holder)
                    parked.append((holder, state))
                }
                out.append(set(Move(slot: holder, server: name, to: .placeholder), backend: backend), slot: holder)
            }
            queue = blocked
        }
    }

    /// One move, whatever holds its address (the caller has checked that nothing else does).
    mutating func apply(_ move: Move, backend: String, to out: inout PlanCommands) {
        if let holder = holderAt[move.to], holder != move.slot, !move.to.isPlaceholder {
            apply([move], backend: backend, to: &out)
        } else {
            out.append(set(move, backend: backend), slot: move.slot)
        }
    }

    private mutating func set(_ m: Move, backend: String) -> SlotAction {
        if let old = endpoint(of: m.slot), holderAt[old] == m.slot { holderAt[old] = nil }
        remember(m.slot, m.server, m.to)
        if !m.to.isPlaceholder { holderAt[m.to] = m.slot }
        return .setAddress(backend: backend, server: m.server, address: m.to.address, port: m.to.port)
    }

    private mutating func remember(_ slot: Int, _ server: String, _ endpoint: EndpointKey) {
        guard slot >= 0 else { return }
        if slot >= endpointOf.count {
            endpointOf.append(contentsOf: repeatElement(nil, count: slot - endpointOf.count + 1))
            names.append(contentsOf: repeatElement(nil, count: slot - names.count + 1))
        }
        endpointOf[slot] = endpoint
        names[slot] = server
    }
}

extension LiveServer {
    /// Whether HAProxy has the server at the placeholder (free, freshly added, or as haproxy.cfg declares it).
    var isAtPlaceholder: Bool { address == PlaceholderAddress.host && port == PlaceholderAddress.port }

    var endpointKey: EndpointKey { EndpointKey(address: address, port: port) }
}
