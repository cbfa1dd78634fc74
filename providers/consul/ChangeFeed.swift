import DiscoveryCore
import Logging
import Synchronization

/// Watches any number of services on a few connections: one blocking query on `/v1/health/state/any` (every
/// check) and one on `/v1/catalog/services`; when either index moves, only the services that changed are fetched
/// again, on the connections left (fabio's way, narrowed to what changed).
///
/// A check change names its service (or its node: then every watched service seen on that node). A catalog move
/// that no check change explains (a registration without checks changed, or tags moved) is resolved from the
/// catalog's names and tags when it can be, and otherwise by fetching every watched service once (a sweep).
struct ChangeFeed: Sendable {
    let client: ConsulClient
    let assembler: SnapshotAssembler
    let sink: any ProviderSink
    let logger: Logger
    let sources: [ConsulSource]
    let fixed: Set<WatchKey>
    let budget: WatchBudget
    /// How long a catalog move waits for the check feed to explain it before sweeping.
    var explainWindow: Duration = .milliseconds(250)

    private static let statePath = "/v1/health/state/any"
    private static let catalogPath = "/v1/catalog/services"

    func run() async {
        let feed = FeedState(fixed: fixed)
        let queue = FetchQueue()
        guard let (checks, checksIndex) = await baseline(Self.statePath, what: "health state", parse: ConsulMapping.parseChecks),
              let (catalog, catalogIndex) = await baseline(Self.catalogPath, what: "catalog", parse: ConsulMapping.parseCatalog)
        else { return }
        feed.setChecks(checks, index: checksIndex)
        applyCatalog(catalog, feed: feed, queue: queue)
        // Entering the feed (at start or from per-service watching) reads every watch once, after both baselines,
        // so a change between the two can only show up as a diff.
        queue.enqueue(feed.watched.sorted { $0.service < $1.service })
        logger.info("watching Consul through the change feed", metadata: [
            "services": "\(feed.watched.count)", "concurrency": "\(client.gate.limit)",
        ])
        let workers = max(1, min(client.gate.limit - 2, 64))
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await stateLoop(from: checksIndex, feed: feed, queue: queue) }
            group.addTask { await catalogLoop(from: catalogIndex, catalog: catalog, feed: feed, queue: queue) }
            for _ in 0..<workers {
                group.addTask { await worker(feed: feed, queue: queue) }
            }
            await group.waitForAll()
        }
    }

    /// The first, non-blocking read of a feed endpoint, retried until it answers.
    private func baseline<T>(_ path: String, what: String, parse: ([UInt8]) throws(ConsulMapping.BodyError) -> T) async -> (T, UInt64)? {
        var backoff = Backoff(base: min(.milliseconds(200), client.settings.retryMax), cap: client.settings.retryMax)
        while !Task.isCancelled {
            do throws(ConsulRequestError) {
                let answer = try await client.get(path)
                let value: T
                do { value = try parse(answer.body) } catch { throw ConsulRequestError(.failed, "GET \(path): \(error)") }
                await sink.reportSuccess(provider: "consul")
                return (value, max(answer.index, 1))
            } catch {
                if error.kind == .cancelled { return nil }
                await sink.reportFailure(provider: "consul", error: error.description)
                if error.kind == .refused { continue }
                let delay = backoff.next()
                logger.warning("Consul request failed; retrying", metadata: ["watch": "\(what)", "error": "\(error.description)", "retry_in": "\(delay)"])
                do { try await Task.sleep(for: delay) } catch { return nil }
            }
        }
        return nil
    }

    private func stateLoop(from index: UInt64, feed: FeedState, queue: FetchQueue) async {
        let loop = BlockingLoop(client: client, sink: sink, logger: logger, path: Self.statePath, what: "health state")
        await loop.run(from: index) { answer, reset throws(ConsulRequestError) in
            let checks: [ConsulCheck]
            do { checks = try ConsulMapping.parseChecks(answer.body) } catch { throw ConsulRequestError(.failed, "GET \(Self.statePath): \(error)") }
            let changed = feed.receiveChecks(checks, index: answer.index)
            if reset {
                // A snapshot restore: indexes mean nothing any more, read everything once.
                queue.enqueue(feed.watched)
            } else if !changed.isEmpty {
                queue.enqueue(changed, urgent: true)
            }
        }
    }

    private func catalogLoop(from index: UInt64, catalog start: [String: [String]], feed: FeedState, queue: FetchQueue) async {
        var previous = start
        var previousBody: [UInt8] = []
        var lastIndex = index
        let loop = BlockingLoop(client: client, sink: sink, logger: logger, path: Self.catalogPath, what: "catalog")
        await loop.run(from: index) { answer, reset throws(ConsulRequestError) in
            defer { lastIndex = answer.index }
            var named = Set<WatchKey>()
            // Most moves (an instance registered or gone in a service that stays) leave the names and tags as they
            // were: the same bytes need no parsing, no selector matching and no comparison.
            if reset || answer.body != previousBody {
                let catalog: [String: [String]]
                do { catalog = try ConsulMapping.parseCatalog(answer.body) } catch { throw ConsulRequestError(.failed, "GET \(Self.catalogPath): \(error)") }
                defer { previous = catalog; previousBody = answer.body }
                let (added, _) = applyCatalog(catalog, feed: feed, queue: queue)
                if reset {
                    queue.enqueue(feed.watched)
                    return
                }
                // Names that appeared, went or changed tags are known from the answer itself.
                for name in Set(catalog.keys).union(previous.keys) where catalog[name] != previous[name] {
                    named.formUnion(feed.keys(named: name))
                }
                named.formUnion(added)
            }
            guard answer.index > lastIndex else { return }  // a wait timeout: nothing moved
            if !named.isEmpty { queue.enqueue(named, urgent: true) }
            // Otherwise a registration changed inside a service: a check change at the same index names it.
            if named.isEmpty, !(await feed.explains(answer.index, within: explainWindow)) {
                let all = feed.watched
                logger.debug("catalog moved without a check change; reading every watched service", metadata: [
                    "index": "\(answer.index)", "services": "\(all.count)",
                ])
                queue.enqueue(all)
            }
        }
    }

    /// Applies the catalog's selector matches; returns the watches added and removed.
    @discardableResult
    private func applyCatalog(_ catalog: [String: [String]], feed: FeedState, queue: FetchQueue) -> (Set<WatchKey>, Set<WatchKey>) {
        let members = SelectorMembers.compute(sources: sources, catalog: catalog)
        let (added, removed) = feed.setSelected(members.all)
        budget.setWatches(feed.watched.count)
        if !removed.isEmpty { queue.drop(removed) }
        assembler.setMembers(members.bySource, forget: removed)
        return (added, removed)
    }

    private func worker(feed: FeedState, queue: FetchQueue) async {
        var backoff = Backoff(base: min(.milliseconds(200), client.settings.retryMax), cap: client.settings.retryMax)
        while let key = await queue.next() {
            let path = "/v1/health/service/\(ConsulClient.percentEncode(key.service))"
            do throws(ConsulRequestError) {
                let answer = try await client.get(path, query: key.queryItems)
                let entries: [ConsulHealthEntry]
                do { entries = try ConsulMapping.parseEntries(answer.body) } catch { throw ConsulRequestError(.failed, "GET \(path): \(error)") }
                feed.noteNodes(key, Set(entries.map(\.node.name)))
                if feed.isWatched(key) { assembler.receive(key, entries: entries, distrust: answer.distrust) }
                queue.done(key)
                backoff.reset()
                await sink.reportSuccess(provider: "consul")
            } catch {
                queue.done(key, failed: error.kind != .cancelled && feed.isWatched(key))
                if error.kind == .cancelled || Task.isCancelled { return }
                await sink.reportFailure(provider: "consul", error: error.description)
                if error.kind == .refused { continue }
                let delay = backoff.next()
                logger.warning("Consul request failed; retrying", metadata: ["watch": "service \(key.service)", "error": "\(error.description)", "retry_in": "\(delay)"])
                do { try await Task.sleep(for: delay) } catch { return }
            }
        }
    }
}
