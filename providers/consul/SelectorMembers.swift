/// Which catalog services each prefix or tag source selects.
struct SelectorMembers: Sendable, Equatable {
    /// Source key -> its watches.
    var bySource: [String: Set<WatchKey>] = [:]
    /// Every selected watch.
    var all: Set<WatchKey> = []

    static func compute(sources: [ConsulSource], catalog: [String: [String]]) -> SelectorMembers {
        var out = SelectorMembers()
        for s in sources {
            let names: [String]
            switch s.selector {
            case .name: continue
            case .prefix(let p): names = catalog.keys.filter { $0.hasPrefix(p) }
            case .tag(let t): names = catalog.filter { $0.value.contains(t) }.map(\.key)
            }
            let keys = Set(names.map { WatchKey(service: $0, params: s.params) })
            out.bySource[s.key] = keys
            out.all.formUnion(keys)
        }
        return out
    }
}
