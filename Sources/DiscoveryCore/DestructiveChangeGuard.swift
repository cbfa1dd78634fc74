/// Never lets discovery empty a backend by accident: a change that would remove more than `max_removed_fraction` of
/// the servers at once, leave fewer than `min_servers`, or that comes from a suspect answer, is held. Additions are
/// never held. A held answer is applied once it has persisted unchanged for `confirm_after`, and an empty one only
/// when `allow_empty` is set. Pure: `now` is an argument.
public enum DestructiveChangeGuard {
    public static func evaluate(
        served: [DesiredInstance], desired: [DesiredInstance], policy: GuardPolicy,
        previous: GuardHold?, suspectReason: String? = nil, now: Double
    ) -> GuardDecision {
        let desiredIDs = Set(desired.map(\.id))
        let removed = served.filter { !desiredIDs.contains($0.id) }
        guard !removed.isEmpty else {
            return GuardDecision(desired: desired, hold: nil, released: false)
        }
        var reasons: [String] = []
        if let suspectReason { reasons.append("suspect answer: \(suspectReason)") }
        if desired.isEmpty { reasons.append("empty answer") }
        let fraction = Double(removed.count) / Double(max(1, served.count))
        if fraction > policy.maxRemovedFraction {
            reasons.append("would remove \(removed.count) of \(served.count) servers (\(Int((fraction * 100).rounded()))% > \(Int((policy.maxRemovedFraction * 100).rounded()))%)")
        }
        if desired.count < policy.minServers {
            reasons.append("would leave \(desired.count) server(s), fewer than min_servers \(policy.minServers)")
        }
        guard !reasons.isEmpty else {
            return GuardDecision(desired: desired, hold: nil, released: previous != nil)
        }
        let fingerprint = desired.map(\.id).sorted()
        let since = (previous?.fingerprint == fingerprint) ? (previous?.since ?? now) : now
        let hold = GuardHold(fingerprint: fingerprint, since: since, reason: reasons.joined(separator: "; "), wouldRemove: removed.count)
        let confirmed = now - since >= policy.confirmAfter.seconds
        // A suspect answer is never confirmed by time alone: the provider must answer normally first.
        if confirmed && suspectReason == nil && (!desired.isEmpty || policy.allowEmpty) {
            return GuardDecision(desired: desired, hold: nil, released: true)
        }
        return GuardDecision(desired: desired + removed, hold: hold, released: false)
    }

    /// The instances a slot table is serving (active slots), as desired instances, for `evaluate`.
    public static func served(by table: BackendSlots) -> [DesiredInstance] {
        table.slots.compactMap { slot in
            guard slot.state == .active, let id = slot.instanceID, let address = slot.address, let port = slot.port else { return nil }
            return DesiredInstance(id: id, address: address, port: port, weight: slot.weight)
        }
    }
}
