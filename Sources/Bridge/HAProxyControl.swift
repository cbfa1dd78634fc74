import HAProxyRuntime

/// What the reconciler needs from HAProxy, in typed terms; `RuntimeClient` is the real one, tests may supply another.
public protocol HAProxyControl: Sendable {
    /// Sends a batch of actions; one result per action, each carrying its action.
    func apply(_ actions: [SlotAction]) async throws(RuntimeError) -> [ActionResult]
    /// `show info` and `show servers state`, parsed, in one round trip.
    func readLiveState() async throws(RuntimeError) -> LiveState
    /// Current sessions per server of each backend, in one round trip.
    func readSessions(backends: [String]) async throws(RuntimeError) -> [String: [String: Int]]
    /// `show info` over a new connection: reaches the process that owns the socket now (after a reload).
    func probeInfo() async throws(RuntimeError) -> HAProxyInfo
    func close()
}

extension RuntimeClient: HAProxyControl {}
