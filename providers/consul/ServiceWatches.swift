import DiscoveryCore
import Logging
import Synchronization

/// One blocking query per watched service (plus a catalog loop for prefix and tag selectors): the fastest way
/// while every watch has a connection (HTTP/1.1) or a stream (HTTP/2) of its own.
struct ServiceWatches: Sendable {
    let client: ConsulClient
    let assembler: SnapshotAssembler
    let sink: any ProviderSink
    let logger: Logger
    let sources: [ConsulSource]
    let fixed: Set<WatchKey>
    let budget: WatchBudget

    func run() async {
        let hasSelectors = sources.contains { if case .name = $0.selector { return false } else { return true } }
        await withTaskGroup(of: Void.self) { watches in
            for key in fixed {
                watches.addTask { await healthLoop(key) }
            }
            if hasSelectors {
                watches.addTask { await catalogLoop() }
            }
            await watches.waitForAll()
        }
    }

    /// The blocking loop on `/v1/health/service/<name>` (all health states).
    func healthLoop(_ key: WatchKey) async {
        let path = "/v1/health/service/\(ConsulClient.percentEncode(key.service))"
        let loop = BlockingLoop(client: client, sink: sink, logger: logger, path: path, query: key.queryItems, what: "service \(key.service)")
        await loop.run { answer, _ throws(ConsulRequestError) in
            let entries: [ConsulHealthEntry]
            do {
                entries = try ConsulMapping.parseEntries(answer.body)
            } catch {
                throw ConsulRequestError(.failed, "GET \(path): \(error)")
            }
            assembler.receive(key, entries: entries, distrust: answer.distrust)
        }
    }

    /// The catalog loop for prefix/tag selectors: keeps one health loop per matching service.
    func catalogLoop() async {
        let running = Mutex<[WatchKey: Task<Void, Never>]>([:])
        let me = self
        let loop = BlockingLoop(client: client, sink: sink, logger: logger, path: "/v1/catalog/services", what: "catalog")
        await loop.run { answer, _ throws(ConsulRequestError) in
            let catalog: [String: [String]]
            do {
                catalog = try ConsulMapping.parseCatalog(answer.body)
            } catch {
                throw ConsulRequestError(.failed, "GET /v1/catalog/services: \(error)")
            }
            let members = SelectorMembers.compute(sources: sources, catalog: catalog)
            let wanted = members.all.subtracting(fixed)
            budget.setWatches(fixed.count + wanted.count)
            // Loops per catalog service live as long as the service matches; they are cancelled individually,
            // which a task group cannot do, and all of them are cancelled and awaited below.
            let (started, stopped): ([WatchKey], [WatchKey]) = running.withLock { r in
                let stop = r.keys.filter { !wanted.contains($0) }
                for k in stop { r.removeValue(forKey: k)?.cancel() }
                let start = wanted.filter { r[$0] == nil }
                for k in start { r[k] = Task { await me.healthLoop(k) } }
                return (Array(start), stop)
            }
            if !started.isEmpty || !stopped.isEmpty {
                logger.info("catalog selection changed", metadata: [
                    "added": "\(started.count)", "removed": "\(stopped.count)",
                ])
            }
            assembler.setMembers(members.bySource, forget: Set(stopped))
        }
        let tasks = running.withLock { r in
            let all = Array(r.values)
            r.removeAll()
            return all
        }
        for t in tasks { t.cancel() }
        for t in tasks { await t.value }
    }
}
