import DiscoveryCore
import FoundationEssentials
import Logging
import ServiceLifecycle

/// Tells systemd how the bridge is doing: READY=1 after the first reconciliation, STATUS= lines, and WATCHDOG=1
/// only while every provider of the running set is fresh, so systemd restarts a bridge whose watches are wedged.
///
/// Sends never block (see `SystemdNotifier`); a dropped notification is counted in
/// `discovery_bridge_systemd_notifications_dropped_total`.
public struct NotifierService: Service, CustomStringConvertible {
    /// Names the service only: the service group logs it, and its fields may hold credentials.
    public var description: String { "NotifierService" }

    let notifier: SystemdNotifier
    let reconciler: Reconciler
    let providers: ProviderSupervisor
    let metrics: BridgeMetrics
    let logger: Logger

    public init(notifier: SystemdNotifier, reconciler: Reconciler, providers: ProviderSupervisor, metrics: BridgeMetrics, logger: Logger) {
        self.notifier = notifier
        self.reconciler = reconciler
        self.providers = providers
        self.metrics = metrics
        self.logger = logger
    }

    public func run() async {
        guard notifier.isEnabled else {
            // Not under systemd: stay until shutdown, since a service that returns early stops the group.
            try? await gracefulShutdown()
            return
        }
        let ready = Wakeup()
        await reconciler.onFirstSync { ready.signal() }
        await withGracefulShutdownHandler {
            while !Task.isShuttingDownGracefully, !Task.isCancelled, !(await reconciler.isReady) {
                await ready.wait(until: nil)
            }
        } onGracefulShutdown: {
            ready.signal()
        }
        if await reconciler.isReady, !Task.isShuttingDownGracefully {
            send("READY=1\nSTATUS=\(await statusLine())")
            logger.info("told systemd we are ready")
            try? await cancelWhenGracefulShutdown { try await self.heartbeat() }
        } else {
            try? await gracefulShutdown()
        }
        send("STOPPING=1")
    }

    func send(_ message: String) {
        if notifier.notify(message) == .dropped {
            metrics.count(.notificationsDropped)
            logger.debug("systemd notification dropped: its socket is full or gone")
        }
    }

    /// Sends STATUS= (and WATCHDOG=1 while discovery is fresh) until cancelled.
    func heartbeat() async throws {
        let interval = notifier.watchdogInterval.map { min($0, .seconds(10)) } ?? .seconds(10)
        var wasStale = false
        while true {
            try await Task.sleep(for: interval)
            let stale = providers.health.staleProviders()
            var message = "STATUS=\(await statusLine())"
            if stale.isEmpty {
                if notifier.watchdogInterval != nil { message += "\nWATCHDOG=1" }
                if wasStale { logger.notice("discovery fresh again; watchdog resumed") }
            } else if !wasStale {
                logger.error("discovery stale; withholding the systemd watchdog", metadata: ["providers": "\(stale.joined(separator: ","))"])
            }
            wasStale = !stale.isEmpty
            send(message)
        }
    }

    func statusLine() async -> String {
        let view = await reconciler.view()
        var total = 0, used = 0, draining = 0
        for t in view.tables.values {
            let c = t.counts
            total += c.total
            used += c.active
            draining += c.draining
        }
        let last = view.lastSync.map { $0.formatted(.iso8601) } ?? "never"
        let stale = providers.health.staleProviders()
        return "\(view.tables.count) backends, \(used)/\(total) slots used, \(draining) draining, last sync \(last)\(stale.isEmpty ? "" : ", stale: \(stale.joined(separator: ","))")"
    }
}
