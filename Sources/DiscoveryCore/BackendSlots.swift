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
