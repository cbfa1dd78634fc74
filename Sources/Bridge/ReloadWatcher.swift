import DiscoveryCore
import HAProxyRuntime
import Logging
import ServiceLifecycle

/// Notices an HAProxy reload or restart within about 100 ms and tells the reconciler, which re-applies what the
/// managed config could not carry.
///
/// With `haproxy.master_cli` it holds one idle master-CLI connection: the master closes it the moment a reload starts
/// (or HAProxy stops), so nothing is polled while nothing happens. It then asks the master for the new worker's pid
/// and waits, probing the stats socket over new connections, until that worker answers there (25–170 ms measured).
/// With only the stats socket it asks for the pid over a new connection every `reload_probe_interval` (100 ms):
/// an open connection would keep reaching the old worker, and keep it alive.
public struct ReloadWatcher: Service {
    public typealias Notice = @Sendable (_ workerPID: Int) async -> Void

    let settings: HAProxySettings
    let logger: Logger
    let noticed: Notice
    /// Its own client (own queue), so probes never wait behind the reconciler's batches, nor they behind probes.
    let stats: RuntimeClient

    public init(settings: HAProxySettings, logger: Logger, noticed: @escaping Notice) {
        self.settings = settings
        self.logger = logger
        self.noticed = noticed
        self.stats = RuntimeClient(endpoint: settings.runtimeAPI, timeout: settings.timeout, logger: logger)
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            if let master = settings.masterCLI {
                await watchMaster(MasterCLI(endpoint: master, timeout: settings.timeout))
            } else {
                await probeStats()
            }
        }
    }

    /// The pid answering on the stats socket now, over a new connection; nil when HAProxy is not reachable.
    func workerPID() async -> Int? {
        guard let answer = try? await stats.probe(["show info"]).first, let info = try? RuntimeParsers.info(answer) else { return nil }
        return info.pid
    }

    func probeStats() async {
        var known = await workerPID()
        while !Task.isCancelled {
            try? await Task.sleep(for: settings.reloadProbeInterval)
            guard let pid = await workerPID() else { continue }
            if pid != known { await noticed(pid) }
            known = pid
        }
    }

    func watchMaster(_ master: MasterCLI) async {
        var known = await workerPID()
        var unreachableSince: ContinuousClock.Instant?
        var warned = false
        while !Task.isCancelled {
            do {
                let session = try await master.connect()
                if warned { logger.notice("master CLI reachable again", metadata: ["master_cli": "\(master.endpoint)"]) }
                unreachableSince = nil
                warned = false
                // The newest worker the master lists owns the stats socket once it is up (a reload we were told of,
                // or one that happened while we were not connected).
                if let target = session.list.newestWorker, target != known {
                    known = await waitForWorker(target) ?? known
                }
                await session.waitForClose()
                // Closed: a reload or a stop is under way (or an idle timeout): reconnect at once.
                continue
            } catch {
                // Unreachable for a moment is every reload (the master re-executes); longer is worth a line.
                let since = unreachableSince ?? .now
                unreachableSince = since
                if !warned, ContinuousClock.now - since > .seconds(2) {
                    warned = true
                    logger.warning("master CLI unreachable; probing the stats socket until it is back",
                                   metadata: ["master_cli": "\(master.endpoint)", "error": "\(error)"])
                }
            }
            // HAProxy stopped (or the master CLI is misconfigured): the stats socket tells when a new one is up.
            let pid = await workerPID()
            if let pid, pid != known {
                await noticed(pid)
                known = pid
            }
            let away = unreachableSince.map { ContinuousClock.now - $0 } ?? .zero
            try? await Task.sleep(for: away < .seconds(10) ? .milliseconds(10) : settings.reloadProbeInterval)
        }
    }

    /// Waits (bounded) until `target` answers on the stats socket, then reports it; returns the pid seen last.
    func waitForWorker(_ target: Int) async -> Int? {
        let deadline = ContinuousClock.now + .seconds(10)
        var last: Int?
        while !Task.isCancelled, ContinuousClock.now < deadline {
            if let pid = await workerPID() {
                last = pid
                if pid == target {
                    await noticed(pid)
                    return pid
                }
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return last
    }
}
