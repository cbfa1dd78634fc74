import DiscoveryCore
import HAProxyRuntime

/// One slot as `GET /status` and `status --json` show it; both outputs build their rows here.
public struct SlotStatus: Codable, Sendable, Equatable {
    public var backend: String
    public var slot: String
    /// The bridge's state: `free`, `active` or `draining`.
    public var state: String
    public var instance: String?
    public var address: String?
    public var port: Int?
    public var weight: Int
    /// Unix time the slot entered its state.
    public var since: Double
    public var dynamic: Bool
    public var drainDeadline: Double?
    /// HAProxy's admin state of the server when live state was read: `ready`, `drain`, `maint` or `missing`.
    public var haproxy: String?

    public init(backend: String, slot: Slot, live: [String: LiveServer]?) {
        self.backend = backend
        self.slot = slot.server
        state = slot.state.rawValue
        instance = slot.instanceID
        address = slot.address
        port = slot.port
        weight = slot.weight
        since = slot.since
        dynamic = slot.dynamic
        drainDeadline = slot.drainDeadline
        haproxy = live.map { $0[slot.server]?.admin.rawValue ?? "missing" }
    }

    /// Rows for every configured backend's slots, in config then slot order.
    /// - Parameter live: HAProxy's servers by backend, when read; nil leaves `haproxy` out.
    public static func rows(backends: [BackendConfig], tables: [String: BackendSlots], live: [String: [String: LiveServer]]?) -> [SlotStatus] {
        backends.flatMap { backend in
            (tables[backend.name]?.slots ?? []).map { SlotStatus(backend: backend.name, slot: $0, live: live.map { $0[backend.name] ?? [:] }) }
        }
    }
}
