/// What the bridge intends a slot to be doing.
public enum SlotState: String, Sendable, Hashable, Codable {
    /// No instance; the server sits in `maint` and may be assigned.
    case free
    /// Serving an instance (`ready`).
    case active
    /// Its instance is gone; `drain` until sessions reach 0 or the drain timeout passes. Never reused meanwhile.
    case draining
}

/// One HAProxy server slot and the instance the bridge put there.
public struct Slot: Sendable, Hashable, Codable {
    /// HAProxy server name, e.g. `slot3`.
    public var server: String
    /// The slot number (the `3` of `slot3`).
    public var number: Int
    /// Created at runtime with `add server` (HAProxy forgets it on restart; the bridge adds it again).
    public var dynamic: Bool
    public var state: SlotState
    /// The namespaced instance id (`provider/id`); nil when free, or when adopted from live state without a record.
    public var instanceID: String?
    public var address: String?
    public var port: Int?
    public var weight: Int
    /// Wall-clock seconds (Unix time) when the slot entered its state.
    public var since: Double
    /// For a draining slot: when it is forced to `maint` whatever its sessions.
    public var drainDeadline: Double?

    public init(
        server: String, number: Int, dynamic: Bool = false, state: SlotState = .free, instanceID: String? = nil,
        address: String? = nil, port: Int? = nil, weight: Int = 1, since: Double = 0, drainDeadline: Double? = nil
    ) {
        self.server = server
        self.number = number
        self.dynamic = dynamic
        self.state = state
        self.instanceID = instanceID
        self.address = address
        self.port = port
        self.weight = weight
        self.since = since
        self.drainDeadline = drainDeadline
    }

    /// `address:port` in HAProxy's notation (IPv6 in brackets), or nil when not set.
    public var endpoint: String? {
        guard let address, let port else { return nil }
        return Endpoint.key(address: address, port: port)
    }
}

/// The slots of one backend, ordered by slot number.
public struct BackendSlots: Sendable, Hashable, Codable {
    public var backend: String
    public var slots: [Slot]

    public init(backend: String, slots: [Slot]) {
        self.backend = backend
        self.slots = slots.sorted { $0.number < $1.number }
    }

    /// Fresh table for a backend: `slots` template slots, all free.
    public static func empty(for config: BackendConfig) -> BackendSlots {
        BackendSlots(backend: config.name, slots: (1...max(1, config.slots)).map { Slot(server: config.serverName($0), number: $0) })
    }

    public var counts: (total: Int, active: Int, draining: Int, free: Int) {
        var a = 0, d = 0, f = 0
        for s in slots {
            switch s.state {
            case .active: a += 1
            case .draining: d += 1
            case .free: f += 1
            }
        }
        return (slots.count, a, d, f)
    }
}

/// Endpoint keys used to dedupe and match instances.
public enum Endpoint {
    public static func key(address: String, port: Int) -> String {
        address.utf8.contains(0x3A) ? "[\(address)]:\(port)" : "\(address):\(port)"
    }
}

/// HAProxy's administrative state of a server as the bridge uses it.
public enum AdminState: String, Sendable, Hashable, Codable {
    case ready, drain, maint

    /// Derives the effective state from `srv_admin_state` bits (0x01 forced maint, 0x02 inherited maint,
    /// 0x20 maint from DNS, 0x08 forced drain, 0x10 inherited drain). 0x04 alone is the `disabled` config marker
    /// that stays set after `state ready`, so it does not mean maintenance.
    public static func fromAdminBits(_ bits: Int) -> AdminState {
        if bits & (0x01 | 0x02 | 0x20) != 0 { return .maint }
        if bits & (0x08 | 0x10) != 0 { return .drain }
        return .ready
    }
}

/// A server as HAProxy currently has it (from `show servers state`).
public struct LiveServer: Sendable, Hashable {
    public var name: String
    public var address: String
    public var port: Int
    public var admin: AdminState
    public var weight: Int

    public init(name: String, address: String, port: Int, admin: AdminState, weight: Int) {
        self.name = name
        self.address = address
        self.port = port
        self.admin = admin
        self.weight = weight
    }
}

/// One Runtime API command, rendered exactly as sent.
public enum RuntimeCommand: Sendable, Hashable, CustomStringConvertible {
    case setAddress(backend: String, server: String, address: String, port: Int)
    case setState(backend: String, server: String, state: AdminState)
    case setWeight(backend: String, server: String, weight: Int)
    /// Creates a server at runtime; HAProxy creates it in maintenance.
    case addServer(backend: String, server: String, address: String, port: Int, options: String)
    /// Starts health checks of a dynamic server (they start disabled).
    case enableHealth(backend: String, server: String)

    public var backend: String {
        switch self {
        case .setAddress(let b, _, _, _), .setState(let b, _, _), .setWeight(let b, _, _), .addServer(let b, _, _, _, _), .enableHealth(let b, _): return b
        }
    }

    public var server: String {
        switch self {
        case .setAddress(_, let s, _, _), .setState(_, let s, _), .setWeight(_, let s, _), .addServer(_, let s, _, _, _), .enableHealth(_, let s): return s
        }
    }

    /// The command line for the Runtime API.
    public var line: String {
        switch self {
        case .setAddress(let b, let s, let a, let p): return "set server \(b)/\(s) addr \(a) port \(p)"
        case .setState(let b, let s, let st): return "set server \(b)/\(s) state \(st.rawValue)"
        case .setWeight(let b, let s, let w): return "set weight \(b)/\(s) \(w)"
        case .addServer(let b, let s, let a, let p, let o):
            let addr = a.utf8.contains(0x3A) ? "[\(a)]:\(p)" : "\(a):\(p)"
            return o.isEmpty ? "add server \(b)/\(s) \(addr)" : "add server \(b)/\(s) \(addr) \(o)"
        case .enableHealth(let b, let s): return "enable health \(b)/\(s)"
        }
    }

    public var description: String { line }
}
