import DiscoveryCore
import Foundation
import Logging
import ServiceLifecycle

/// Tells systemd how the bridge is doing: READY=1 after the first reconciliation, STATUS= lines, and WATCHDOG=1
/// only while every provider is fresh, so systemd restarts a bridge whose watches are wedged.
struct NotifierService: Service {
    let notifier: SystemdNotifier
    let reconciler: Reconciler
    let health: ProviderHealth
    let logger: Logger

    func run() async throws {
        guard notifier.isEnabled else {
            // Not under systemd: stay until shutdown, since a service that returns early stops the group.
            try? await gracefulShutdown()
            return
        }
        let ready = Wakeup()
        await reconciler.onFirstSync { ready.signal() }
        _ = await withGracefulShutdownHandler {
            await ready.wait(until: nil)
        } onGracefulShutdown: {
            ready.signal()
        }
        guard await reconciler.isReady else { return }
        notifier.notify("READY=1\nSTATUS=\(await statusLine())")
        logger.info("told systemd we are ready")
        try? await cancelWhenGracefulShutdown { try await self.heartbeat() }
        notifier.notify("STOPPING=1")
    }

    /// Sends STATUS= (and WATCHDOG=1 while discovery is fresh) until cancelled.
    func heartbeat() async throws {
        let interval = notifier.watchdogInterval.map { min($0, .seconds(10)) } ?? .seconds(10)
        var wasStale = false
        while true {
            try await Task.sleep(for: interval)
            let stale = health.staleProviders()
            var message = "STATUS=\(await statusLine())"
            if stale.isEmpty {
                if notifier.watchdogInterval != nil { message += "\nWATCHDOG=1" }
                if wasStale { logger.notice("discovery fresh again; watchdog resumed") }
            } else if !wasStale {
                logger.error("discovery stale; withholding the systemd watchdog", metadata: ["providers": "\(stale.joined(separator: ","))"])
            }
            wasStale = !stale.isEmpty
            notifier.notify(message)
        }
    }

    func statusLine() async -> String {
        let tables = await reconciler.slotTables()
        var total = 0, used = 0, draining = 0
        for t in tables.values {
            let c = t.counts
            total += c.total
            used += c.active
            draining += c.draining
        }
        let last = await reconciler.lastSync.map { ISO8601DateFormatter().string(from: $0) } ?? "never"
        let stale = health.staleProviders()
        return "\(tables.count) backends, \(used)/\(total) slots used, \(draining) draining, last sync \(last)\(stale.isEmpty ? "" : ", stale: \(stale.joined(separator: ","))")"
    }
}
