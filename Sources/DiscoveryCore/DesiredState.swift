/// Applies a backend's mapping: which sources feed it, the health policy, ports, weights, dedupe by endpoint.
public enum DesiredState {
    /// Builds the desired instance list of `backend` from the latest snapshot of each source (keyed by `SourceSpec.key`).
    public static func build(backend: BackendConfig, snapshots: [String: [Instance]]) -> DesiredBackend {
        var result: [DesiredInstance] = []
        var rejected: [RejectedInstance] = []
        var excluded = 0
        var byEndpoint: [EndpointKey: Int] = [:]
        var seenIDs = Set<String>()
        // Sized up front: growing these tables rehashed every key a few times per backend.
        let expected = backend.sources.reduce(0) { $0 + (snapshots[$1.key]?.count ?? 0) }
        result.reserveCapacity(expected)
        byEndpoint.reserveCapacity(expected)
        seenIDs.reserveCapacity(expected)
        for source in backend.sources {
            guard let instances = snapshots[source.key] else {
                return DesiredBackend(backend: backend.name, instances: nil, excludedByHealth: 0, rejected: [])
            }
            for instance in instances {
                var id = source.provider
                id.reserveCapacity(source.provider.utf8.count + 1 + instance.id.utf8.count)
                id.append("/")
                id.append(instance.id)
                guard backend.health.admits(instance.health) else { excluded += 1; continue }
                guard AddressLiteral.isValid(instance.address) else {
                    rejected.append(RejectedInstance(id: id, reason: "address \"\(instance.address)\" is not an IPv4 or IPv6 literal"))
                    continue
                }
                guard let port = instance.port ?? backend.port else {
                    rejected.append(RejectedInstance(id: id, reason: "no port: the instance has none and backend \(backend.name) sets no \"port\""))
                    continue
                }
                guard (1...65535).contains(port) else {
                    rejected.append(RejectedInstance(id: id, reason: "port \(port) is out of range"))
                    continue
                }
                let weight = min(256, max(0, instance.weight ?? backend.defaultWeight))
                // The same instance listed by two sources of one backend counts once.
                guard seenIDs.insert(id).inserted else { continue }
                let desired = DesiredInstance(id: id, address: instance.address, port: port, weight: weight, health: instance.health)
                let endpoint = desired.endpointKey
                if !byEndpoint.insertIfAbsent(endpoint, result.count), let existing = byEndpoint[endpoint] {
                    // Two ids at one endpoint: keep the healthier, then the smaller id, so the choice is stable.
                    let other = result[existing]
                    if (desired.health, desired.id) < (other.health, other.id) {
                        rejected.append(RejectedInstance(id: other.id, reason: "same endpoint \(endpoint.text) as \(desired.id)"))
                        result[existing] = desired
                    } else {
                        rejected.append(RejectedInstance(id: desired.id, reason: "same endpoint \(endpoint.text) as \(other.id)"))
                    }
                    continue
                }
                result.append(desired)
            }
        }
        return DesiredBackend(backend: backend.name, instances: result, excludedByHealth: excluded, rejected: rejected)
    }
}
