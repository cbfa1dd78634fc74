/// What changed between two `/v1/health/state/any` answers: the services whose checks changed, and the nodes whose
/// node checks changed (every service on such a node changed health). Pure, so it is tested without a server.
struct CheckDiff: Sendable, Equatable {
    var services: Set<String> = []
    var nodes: Set<String> = []
    /// Create/modify indexes of the changed checks (and the answer's index when checks went away): the Consul
    /// indexes this diff explains.
    var indexes: Set<UInt64> = []

    var isEmpty: Bool { services.isEmpty && nodes.isEmpty }

    /// A check is the same when its status, owner and modify index are; `previous` is keyed by `ConsulCheck.key`.
    static func between(_ previous: [String: ConsulCheck], _ current: [ConsulCheck], answerIndex: UInt64) -> (CheckDiff, [String: ConsulCheck]) {
        var diff = CheckDiff()
        var next: [String: ConsulCheck] = [:]
        next.reserveCapacity(current.count)
        func note(_ c: ConsulCheck) {
            if c.serviceID.isEmpty { diff.nodes.insert(c.node) } else { diff.services.insert(c.serviceName) }
        }
        for c in current {
            let key = c.key
            next[key] = c
            guard let old = previous[key] else {
                note(c)
                diff.indexes.insert(c.createIndex)
                diff.indexes.insert(c.modifyIndex)
                continue
            }
            if old.status != c.status || old.modifyIndex != c.modifyIndex || old.serviceID != c.serviceID || old.serviceName != c.serviceName {
                note(c)
                if old.serviceName != c.serviceName { note(old) }
                diff.indexes.insert(c.modifyIndex)
            }
        }
        for (key, old) in previous where next[key] == nil {
            note(old)
            diff.indexes.insert(answerIndex)
        }
        return (diff, next)
    }
}
