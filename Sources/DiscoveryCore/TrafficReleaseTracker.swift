/// Decides when watched instances take no traffic in any backend, and whom to tell. Pure: tables in, announcements out.
///
/// An instance takes traffic while some slot holds it `active` or `draining`. The reconciler asks after each applied
/// batch, so "no longer" means HAProxy has acknowledged the commands that took the instance's last slot away (its
/// sessions reached 0, or its drain deadline passed). An instance that never had a slot is announced at once.
public struct TrafficReleaseTracker: Sendable {
    struct Entry: Sendable {
        var ids: Set<String>
        var receiver: any TrafficReleaseReceiver
        var announced: Set<String>
    }

    /// A batch of ids for one receiver.
    public struct Announcement: Sendable {
        public var provider: String
        public var receiver: any TrafficReleaseReceiver
        public var ids: [String]
    }

    private var watches: [String: Entry] = [:]

    public init() {}

    /// Records `provider`'s watch, replacing its previous one; true when an id awaits its announcement.
    @discardableResult
    public mutating func watch(provider: String, _ watch: ReleaseWatch) -> Bool {
        let announced = watches[provider]?.announced.intersection(watch.ids) ?? []
        watches[provider] = Entry(ids: watch.ids, receiver: watch.receiver, announced: announced)
        return watch.ids.count > announced.count
    }

    /// True when some watched id has not been announced yet.
    public var hasPending: Bool { watches.values.contains { $0.ids.count > $0.announced.count } }

    /// The announcements due given every backend's slot table after an applied batch; each id is announced once.
    ///
    /// A slot that is `active` or `draining` without an instance id (adopted from HAProxy's live state without a
    /// record) may hold any instance of the providers feeding its backend, so it defers their announcements until
    /// the planner has identified or freed it.
    public mutating func due(tables: [String: BackendSlots], backends: [BackendConfig]) -> [Announcement] {
        guard hasPending else { return [] }
        var serving: [String: Set<String>] = [:]
        var blocked = Set<String>()
        let providersOf = Dictionary(backends.map { ($0.name, $0.sources.map(\.provider)) }, uniquingKeysWith: { a, _ in a })
        for (name, table) in tables {
            for slot in table.slots where slot.state != .free {
                guard let id = slot.instanceID, let slash = id.firstIndex(of: "/") else {
                    blocked.formUnion(providersOf[name] ?? [])
                    continue
                }
                serving[String(id[..<slash]), default: []].insert(String(id[id.index(after: slash)...]))
            }
        }
        var out: [Announcement] = []
        for provider in watches.keys.sorted() where !blocked.contains(provider) {
            guard var entry = watches[provider] else { continue }
            let busy = serving[provider] ?? []
            let released = entry.ids.subtracting(entry.announced).subtracting(busy)
            guard !released.isEmpty else { continue }
            entry.announced.formUnion(released)
            watches[provider] = entry
            out.append(Announcement(provider: provider, receiver: entry.receiver, ids: released.sorted()))
        }
        return out
    }
}
