/// Hears from the core that instances of its provider no longer take traffic in any backend.
///
/// This is the one feedback path from the core to a provider (for example, to complete an Auto Scaling lifecycle
/// action once HAProxy has drained the instance). It speaks of instances only, never of backends, slots or HAProxy.
/// `noLongerServing` is called from the reconciler after an applied batch, so it must return at once: a receiver
/// queues the ids and acts on them in its own task.
public protocol TrafficReleaseReceiver: Sendable {
    /// `ids` are provider-scoped instance ids exactly as the provider published them (without the `provider/` prefix).
    func noLongerServing(_ ids: [String])
}

/// A provider's request, carried by its `ProviderUpdate`: tell `receiver` once each of `ids` takes no traffic anywhere.
///
/// Each update that carries a watch replaces the provider's previous one. An id is announced once; listing it again
/// after it left the watch asks for a new announcement.
public struct ReleaseWatch: Sendable {
    public var ids: Set<String>
    public var receiver: any TrafficReleaseReceiver

    public init(ids: Set<String>, receiver: any TrafficReleaseReceiver) {
        self.ids = ids
        self.receiver = receiver
    }
}
