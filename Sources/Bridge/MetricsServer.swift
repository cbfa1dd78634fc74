import DiscoveryCore
import FoundationEssentials
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// Serves `GET /metrics` (Prometheus text), `GET /healthz` (200 while fresh, else 503) and `GET /status`
/// (the slot table as JSON) on `metrics.listen`.
///
/// Graceful shutdown closes the listener and ends the service normally (a stopped bridge exits 0).
public struct MetricsServer: Service, CustomStringConvertible {
    /// Names the service only: the service group logs it, and its fields may hold credentials.
    public var description: String { "MetricsServer(\(settings.host):\(settings.port))" }

    let settings: MetricsSettings
    let metrics: BridgeMetrics
    let reconciler: Reconciler
    let providers: ProviderSupervisor
    let logger: Logger
    /// Called with the bound port once listening (useful with port 0).
    let onListening: @Sendable (Int) -> Void

    var health: ProviderHealth { providers.health }

    public init(settings: MetricsSettings, metrics: BridgeMetrics, reconciler: Reconciler, providers: ProviderSupervisor, logger: Logger,
                onListening: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.settings = settings
        self.metrics = metrics
        self.reconciler = reconciler
        self.providers = providers
        self.logger = logger
        self.onListening = onListening
    }

    public func run() async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 64)
            .bind(host: settings.host, port: settings.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                }
            }
        let port = server.channel.localAddress?.port ?? settings.port
        logger.info("metrics endpoint listening", metadata: ["listen": "\(settings.host):\(port)"])
        onListening(port)
        do {
            try await cancelWhenGracefulShutdown {
                try await withThrowingDiscardingTaskGroup { group in
                    try await server.executeThenClose { inbound in
                        for try await connection in inbound {
                            group.addTask { await self.serve(connection) }
                        }
                    }
                }
            }
        } catch where Task.isShuttingDownGracefully {
            // Graceful shutdown cancels the accept loop, which ends in a CancellationError (or a closed channel):
            // that is how this service is asked to stop, not a failure, so the bridge still exits 0.
            logger.debug("metrics endpoint closed", metadata: ["error": "\(error)"])
        }
    }

    /// Serves one connection; a client idle for 10 s is dropped.
    func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await connection.executeThenClose { inbound, outbound in
                        var head: HTTPRequestHead?
                        for try await part in inbound {
                            switch part {
                            case .head(let h): head = h
                            case .body: break
                            case .end:
                                guard let h = head else { continue }
                                let (status, contentType, body) = await self.respond(to: h)
                                var headers = HTTPHeaders()
                                headers.add(name: "Content-Type", value: contentType)
                                headers.add(name: "Content-Length", value: String(body.count))
                                headers.add(name: "Connection", value: h.isKeepAlive ? "keep-alive" : "close")
                                try await outbound.write(.head(HTTPResponseHead(version: h.version, status: status, headers: headers)))
                                try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
                                try await outbound.write(.end(nil))
                                if !h.isKeepAlive { return }
                                head = nil
                            }
                        }
                    }
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(10))
                    throw CancellationError()
                }
                try await group.next()
                group.cancelAll()
            }
        } catch {
            logger.debug("metrics connection closed", metadata: ["error": "\(error)"])
        }
    }

    func respond(to head: HTTPRequestHead) async -> (HTTPResponseStatus, String, [UInt8]) {
        guard head.method == .GET || head.method == .HEAD else {
            return (.methodNotAllowed, "text/plain", Array("only GET\n".utf8))
        }
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        switch path {
        case "/metrics":
            metrics.refresh(view: await reconciler.view(), health: health, stateWriteFailing: reconciler.stateWriteFailing)
            metrics.refreshManagedConfig(reconciler.managedConfig?.status)
            return (.ok, "text/plain; version=0.0.4; charset=utf-8", metrics.render())
        case "/healthz":
            let (fresh, reason) = await freshness()
            return fresh ? (.ok, "text/plain", Array("ok\n".utf8)) : (.serviceUnavailable, "text/plain", Array("\(reason)\n".utf8))
        case "/status":
            return (.ok, "application/json", Array(await statusJSON().utf8))
        default:
            return (.notFound, "text/plain", Array("not found: try /metrics, /healthz or /status\n".utf8))
        }
    }

    /// Fresh: HAProxy reached by the last reconciliation, and every provider answered within its staleness limit.
    func freshness() async -> (Bool, String) {
        freshness(await reconciler.view())
    }

    func freshness(_ view: ReconcilerView) -> (Bool, String) {
        var problems: [String] = []
        if !view.hasSynced { problems.append("not yet synchronised with HAProxy") }
        if let error = view.lastError { problems.append(error) }
        let stale = health.staleProviders()
        if !stale.isEmpty { problems.append("stale providers: \(stale.joined(separator: ", "))") }
        return (problems.isEmpty, problems.joined(separator: "; "))
    }

    func statusJSON() async -> String {
        let view = await reconciler.view()
        let (tables, holds, unslotted, config) = (view.tables, view.holds, view.unslotted, view.config)
        var backends: [String: StatusReport.Backend] = [:]
        for backend in config.backends {
            backends[backend.name] = StatusReport.Backend(
                slots: SlotStatus.rows(backends: [backend], tables: tables, live: nil),
                unslotted: unslotted[backend.name] ?? [], guardHold: holds[backend.name].map(GuardHoldStatus.init)
            )
        }
        let now = ContinuousClock.now
        let providers = health.snapshot.mapValues { entry in
            StatusReport.Provider(
                successes: entry.successes, failures: entry.failures,
                secondsSinceSuccess: entry.lastSuccess.map { (now - $0).seconds }, lastError: entry.lastError
            )
        }
        let (fresh, reason) = freshness(view)
        let report = StatusReport(
            backends: backends, providers: providers, fresh: fresh, problems: fresh ? nil : reason,
            lastSync: view.lastSync.map { $0.formatted(.iso8601) },
            managedConfig: reconciler.managedConfig.map(StatusReport.ManagedConfig.init)
        )
        return StatusJSON.encode(report)
    }
}
