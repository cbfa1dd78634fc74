import CurlHTTP
import DiscoveryCore
import FoundationEssentials
import Logging
import Synchronization

/// Watches Consul within a fixed connection budget (`max_connections`) and publishes each source only when its
/// mapped instances change.
///
/// While the watches fit the budget (one connection each over HTTP/1.1, one stream each over HTTP/2), every
/// service gets its own blocking query (`ServiceWatches`); beyond it, the shared change feed (`ChangeFeed`) watches
/// all of them on two blocking queries and fetches only what changed. The provider switches between the two as
/// the number of watches or the allowed concurrency changes; answers already published stay.
public struct ConsulProvider: DiscoveryProvider {
    public let name = "consul"
    public let settings: ConsulSettings
    public let sources: [ConsulSource]
    let logger: Logger

    public init(settings: ConsulSettings, sources: [ConsulSource], logger: Logger) {
        self.settings = settings
        self.sources = sources
        var l = logger
        l[metadataKey: "provider"] = "consul"
        self.logger = l
    }

    /// A blocking query may legitimately take `wait + wait/16`; allow half a minute more before calling it stale.
    public var stalenessLimit: Duration { settings.wait + settings.wait / 16 + .seconds(30) }

    public func run(sink: any ProviderSink) async throws {
        let fixed = Set(sources.compactMap { s -> WatchKey? in
            if case .name(let n) = s.selector { return WatchKey(service: n, params: s.params) }
            return nil
        })
        let hasSelectors = sources.contains { if case .name = $0.selector { return false } else { return true } }
        let budgetBox = BudgetBox()
        let client = ConsulClient(settings: settings, logger: logger) { limit in budgetBox.budget?.setLimit(limit) }
        defer { client.shutdown() }
        let budget = WatchBudget(configured: settings.watchMode, watches: fixed.count, limit: client.gate.limit, extra: hasSelectors ? 1 : 0) {
            client.expect(requests: $0)
        }
        budgetBox.budget = budget
        let (stream, continuation) = AsyncStream<ProviderUpdate>.makeStream()
        let assembler = SnapshotAssembler(sources: sources, updates: continuation, logger: logger)
        let reporter = ConsulMetrics(client: client, budget: budget, sink: sink)

        await withTaskGroup(of: Void.self) { group in
            // On the sink's thread (the reconciler's, in the bridge): the answer's thread wakes it once, and
            // `publish` enters the reconciler there.
            group.addTask(executorPreference: sink.publishExecutor) {
                for await update in stream { await sink.publish(update) }
            }
            group.addTask { await reporter.run() }
            group.addTask {
                if fixed.isEmpty && !hasSelectors {
                    while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
                } else {
                    await watch(client: client, budget: budget, assembler: assembler, sink: sink, fixed: fixed, hasSelectors: hasSelectors)
                }
                continuation.finish()
            }
            await group.next()
            group.cancelAll()
        }
    }

    /// Learns whether the agent speaks HTTP/2 (and, with selectors, how many services they select), then runs the
    /// mode the budget allows until it changes.
    private func watch(client: ConsulClient, budget: WatchBudget, assembler: SnapshotAssembler, sink: any ProviderSink,
                       fixed: Set<WatchKey>, hasSelectors: Bool) async {
        if settings.address.lowercased().hasPrefix("https://") || hasSelectors {
            guard await probe(client: client, budget: budget, sink: sink, fixed: fixed) else { return }
        }
        var mode: WatchBudget.Mode? = nil
        while !Task.isCancelled {
            let next = budget.decide(current: mode)
            if let mode {
                logger.info("Consul watch mode changes", metadata: [
                    "from": "\(mode)", "to": "\(next)", "watches": "\(budget.watches)", "concurrency": "\(budget.limit)",
                ])
            }
            mode = next
            let runner: @Sendable () async -> Void
            switch next {
            case .perService:
                let w = ServiceWatches(client: client, assembler: assembler, sink: sink, logger: logger, sources: sources, fixed: fixed, budget: budget)
                runner = { await w.run() }
            case .feed:
                let f = ChangeFeed(client: client, assembler: assembler, sink: sink, logger: logger, sources: sources, fixed: fixed, budget: budget)
                runner = { await f.run() }
            }
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await runner() }
                group.addTask { await budget.waitUntilNot(next) }
                await group.next()
                group.cancelAll()
            }
        }
    }

    /// One non-blocking catalog read: its HTTP version sets the capacity, its names count the selected services.
    private func probe(client: ConsulClient, budget: WatchBudget, sink: any ProviderSink, fixed: Set<WatchKey>) async -> Bool {
        var backoff = Backoff(base: min(.milliseconds(200), settings.retryMax), cap: settings.retryMax)
        while !Task.isCancelled {
            do throws(ConsulRequestError) {
                let answer = try await client.get("/v1/catalog/services")
                let catalog: [String: [String]]
                do { catalog = try ConsulMapping.parseCatalog(answer.body) } catch { throw ConsulRequestError(.failed, "GET /v1/catalog/services: \(error)") }
                let streams = answer.httpVersion >= 2 ? settings.maxStreamsPerConnection : 1
                client.multiplexing(streams: streams)
                client.gate.setCapacity(settings.maxConnections * streams)
                budget.setLimit(client.gate.limit)
                budget.setWatches(fixed.union(SelectorMembers.compute(sources: sources, catalog: catalog).all).count)
                logger.info("Consul answers", metadata: [
                    "http_version": "\(answer.httpVersion)", "connections": "\(settings.maxConnections)",
                    "streams_per_connection": "\(streams)", "watches": "\(budget.watches)",
                ])
                await sink.reportSuccess(provider: "consul")
                return true
            } catch {
                if error.kind == .cancelled { return false }
                await sink.reportFailure(provider: "consul", error: error.description)
                if error.kind == .refused { continue }
                let delay = backoff.next()
                logger.warning("Consul request failed; retrying", metadata: ["watch": "catalog", "error": "\(error.description)", "retry_in": "\(delay)"])
                do { try await Task.sleep(for: delay) } catch { return false }
            }
        }
        return false
    }
}

/// Lets the gate's limit callback reach the budget, which is built after the client whose gate it watches.
final class BudgetBox: @unchecked Sendable {
    private let box = Mutex<WatchBudget?>(nil)
    var budget: WatchBudget? {
        get { box.withLock { $0 } }
        set { box.withLock { $0 = newValue } }
    }
}
