import CurlHTTP
import DiscoveryCore
import Foundation
import Logging
import Synchronization

/// Builds the Consul provider from `providers.consul` and the sources naming `consul`.
public struct ConsulProviderFactory: ProviderFactory {
    public let name = "consul"

    public init() {}

    public func makeProvider(config: JSONValue, path: String, sources: [SourceSpec], context: ProviderContext) throws(ConfigError) -> any DiscoveryProvider {
        let settings = try ConsulSettings.parse(config, path: path, context: context)
        var parsed: [ConsulSource] = []
        var seen: Set<String> = []
        for spec in sources where spec.provider == name {
            let source = try ConsulSource.parse(spec)
            if seen.insert(source.key).inserted { parsed.append(source) }
        }
        return ConsulProvider(settings: settings, sources: parsed, logger: context.logger)
    }
}

/// Watches Consul with blocking queries: one loop per (service, query parameters), plus one catalog loop when a
/// source selects services by prefix or tag. Publishes a source only when its mapped instances change.
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
        let client = HTTPClient()
        defer { client.shutdown() }
        let (stream, continuation) = AsyncStream<ProviderUpdate>.makeStream()
        let fixed = Set(sources.compactMap { s -> WatchKey? in
            if case .name(let n) = s.selector { return WatchKey(service: n, params: s.params) }
            return nil
        })
        let assembler = SnapshotAssembler(sources: sources, updates: continuation, logger: logger)
        let watcher = ConsulWatcher(settings: settings, client: client, assembler: assembler, sink: sink, logger: logger,
                                    token: TokenReader(settings.token, logger: logger))
        let hasSelectors = sources.contains { if case .name = $0.selector { return false } else { return true } }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await update in stream { await sink.publish(update) }
            }
            group.addTask {
                await withTaskGroup(of: Void.self) { watches in
                    for key in fixed {
                        watches.addTask { await watcher.healthLoop(key) }
                    }
                    if hasSelectors {
                        watches.addTask { await watcher.catalogLoop(sources: sources, fixed: fixed) }
                    }
                    if fixed.isEmpty && !hasSelectors {
                        watches.addTask { while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) } }
                    }
                    await watches.waitForAll()
                }
                continuation.finish()
            }
        }
    }
}

/// One health query: a service name and the source's query parameters.
struct WatchKey: Hashable, Sendable, CustomStringConvertible {
    var service: String
    var params: ConsulQueryParams
    var description: String { service }
}

/// Reads the ACL token, re-reading a token file when its modification time or size changes.
final class TokenReader: Sendable {
    private struct Cache { var stamp: String = ""; var token: String = "" }
    private let source: ConsulTokenSource
    private let cache = Mutex(Cache())
    private let logger: Logger

    init(_ source: ConsulTokenSource, logger: Logger) {
        self.source = source
        self.logger = logger
    }

    func current() -> String {
        switch source {
        case .none: return ""
        case .literal(let t): return t
        case .file(let path):
            let attrs = try? FileManager.default.attributesOfItem(atPath: path)
            let stamp = "\((attrs?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? -1)/\((attrs?[.size] as? NSNumber)?.intValue ?? -1)"
            return cache.withLock { c in
                if c.stamp == stamp { return c.token }
                if let data = FileManager.default.contents(atPath: path) {
                    c.token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                    c.stamp = stamp
                    logger.info("read Consul token file", metadata: ["file": "\(path)"])
                } else {
                    logger.warning("cannot read Consul token file; keeping the previous token", metadata: ["file": "\(path)"])
                }
                return c.token
            }
        }
    }
}

/// Token bucket: `burst` requests at once, then one per `interval`. Pure; the caller sleeps the returned delay.
struct TokenBucket: Sendable {
    var interval: Duration
    var burst: Double = 2
    private var tokens: Double
    private var last: ContinuousClock.Instant?

    init(interval: Duration, burst: Double = 2) {
        self.interval = interval
        self.burst = burst
        self.tokens = burst
    }

    /// Takes one token at `now`; returns how long to wait before sending.
    mutating func take(now: ContinuousClock.Instant) -> Duration {
        if let last {
            tokens = min(burst, tokens + (now - last) / interval)
        }
        last = now
        tokens -= 1
        return tokens >= 0 ? .zero : interval * (-tokens)
    }
}

/// Capped exponential backoff with jitter (half fixed, half random).
struct RetryBackoff: Sendable {
    var base: Duration = .milliseconds(200)
    var cap: Duration = .seconds(30)
    private(set) var attempt = 0

    mutating func next() -> Duration {
        let exponent = min(attempt, 20)
        attempt += 1
        let ceiling = min(cap.seconds, base.seconds * Double(1 << exponent))
        return .milliseconds(Int64((ceiling / 2 + Double.random(in: 0...(ceiling / 2))) * 1000))
    }

    mutating func reset() { attempt = 0 }
}

/// A failed round trip, described without the token.
struct ConsulRequestError: Error, CustomStringConvertible {
    var description: String
}

/// What one good answer carried besides its body.
struct AnswerMeta {
    var index: UInt64
    /// Set when the answering server has no known leader or lags (`X-Consul-LastContact` above the limit).
    var distrust: String?
}

/// The request loops; each loop retries forever and stops only when its task is cancelled.
struct ConsulWatcher: Sendable {
    let settings: ConsulSettings
    let client: HTTPClient
    let assembler: SnapshotAssembler
    let sink: any ProviderSink
    let logger: Logger
    let token: TokenReader

    /// One blocking-query loop on `/v1/health/service/<name>` (all health states).
    func healthLoop(_ key: WatchKey) async {
        var query: [(String, String)] = key.params.tags.map { ("tag", $0) }
        query += key.params.nodeMeta.map { ("node-meta", $0) }
        if let f = key.params.filter { query.append(("filter", f)) }
        let path = "/v1/health/service/\(Self.percentEncode(key.service))"
        await loop(path: path, extraQuery: query, what: "service \(key.service)") { body, meta throws(ConsulRequestError) in
            let entries: [JSONValue]
            do {
                entries = try ConsulMapping.parseEntries(body)
            } catch {
                throw ConsulRequestError(description: "GET \(path): \(error)")
            }
            assembler.receive(key, entries: entries, distrust: meta.distrust)
        }
    }

    /// The catalog loop for prefix/tag selectors: keeps one health loop per matching service.
    func catalogLoop(sources: [ConsulSource], fixed: Set<WatchKey>) async {
        let selectorSources = sources.filter { if case .name = $0.selector { return false } else { return true } }
        let running = Mutex<[WatchKey: Task<Void, Never>]>([:])
        let me = self
        await loop(path: "/v1/catalog/services", extraQuery: [], what: "catalog") { body, _ throws(ConsulRequestError) in
            let catalog: [String: [String]]
            do {
                catalog = try ConsulMapping.parseCatalog(body)
            } catch {
                throw ConsulRequestError(description: "GET /v1/catalog/services: \(error)")
            }
            var wanted: Set<WatchKey> = []
            var members: [String: Set<WatchKey>] = [:]
            for s in selectorSources {
                let names = catalog.filter { name, tags in
                    switch s.selector {
                    case .prefix(let p): return name.hasPrefix(p)
                    case .tag(let t): return tags.contains(t)
                    case .name(let n): return name == n
                    }
                }.keys
                let keys = Set(names.map { WatchKey(service: $0, params: s.params) })
                members[s.key] = keys
                wanted.formUnion(keys.subtracting(fixed))
            }
            let (started, stopped): ([WatchKey], [WatchKey]) = running.withLock { r in
                let stop = r.keys.filter { !wanted.contains($0) }
                for k in stop { r.removeValue(forKey: k)?.cancel() }
                let start = wanted.filter { r[$0] == nil }
                for k in start { r[k] = Task { await me.healthLoop(k) } }
                return (Array(start), stop)
            }
            if !started.isEmpty || !stopped.isEmpty {
                logger.info("catalog selection changed", metadata: [
                    "added": "\(started.map(\.service).sorted())", "removed": "\(stopped.map(\.service).sorted())",
                ])
            }
            assembler.setMembers(members, forget: Set(stopped))
        }
        let tasks = running.withLock { r in
            let all = Array(r.values)
            r.removeAll()
            return all
        }
        for t in tasks { t.cancel() }
        for t in tasks { await t.value }
    }

    /// The generic blocking loop: rate limit, request, index rules, hand the body over, report, back off on errors.
    private func loop(
        path: String, extraQuery: [(String, String)], what: String,
        handle: (_ body: [UInt8], _ meta: AnswerMeta) throws(ConsulRequestError) -> Void
    ) async {
        var index: UInt64 = 0
        var bucket = TokenBucket(interval: settings.minRequestInterval)
        var backoff = RetryBackoff(base: min(.milliseconds(200), settings.retryMax), cap: settings.retryMax)
        var failing = false
        while !Task.isCancelled {
            let delay = bucket.take(now: .now)
            if delay > .zero {
                do { try await Task.sleep(for: delay) } catch { return }
            }
            do throws(ConsulRequestError) {
                let (body, meta) = try await fetch(path: path, extraQuery: extraQuery, index: index)
                if meta.index < index {
                    logger.info("Consul index went backwards; resetting", metadata: ["watch": "\(what)", "from": "\(index)", "to": "\(meta.index)"])
                    index = 0
                } else {
                    index = max(meta.index, 1)
                }
                try handle(body, meta)
                if failing {
                    logger.info("Consul answers again", metadata: ["watch": "\(what)"])
                    failing = false
                }
                backoff.reset()
                await sink.reportSuccess(provider: "consul")
            } catch {
                if Task.isCancelled { return }
                failing = true
                let delay = backoff.next()
                logger.warning("Consul request failed; retrying", metadata: [
                    "watch": "\(what)", "error": "\(error.description)", "retry_in": "\(delay)",
                ])
                await sink.reportFailure(provider: "consul", error: error.description)
                do { try await Task.sleep(for: delay) } catch { return }
            }
        }
    }

    private func fetch(path: String, extraQuery: [(String, String)], index: UInt64) async throws(ConsulRequestError) -> ([UInt8], AnswerMeta) {
        var query: [(String, String)] = []
        if let dc = settings.datacenter { query.append(("dc", dc)) }
        if let ns = settings.namespace { query.append(("ns", ns)) }
        if let p = settings.partition { query.append(("partition", p)) }
        if settings.stale { query.append(("stale", "")) }
        if settings.cached { query.append(("cached", "")) }
        query += extraQuery
        if index > 0 {
            query.append(("index", String(index)))
            query.append(("wait", "\(settings.wait.milliseconds)ms"))
        }
        let qs = query.map { $1.isEmpty ? Self.percentEncode($0) : "\(Self.percentEncode($0))=\(Self.percentEncode($1))" }
        let url = settings.address + path + (qs.isEmpty ? "" : "?" + qs.joined(separator: "&"))
        var request = HTTPRequest(url: url, timeout: settings.wait + settings.wait / 16 + .seconds(10))
        request.tls = settings.tls
        let secret = token.current()
        if !secret.isEmpty { request.headers.append(HTTPHeader("X-Consul-Token", secret)) }
        request.headers.append(HTTPHeader("Accept", "application/json"))

        let response: HTTPResponse
        do {
            response = try await client.execute(request)
        } catch {
            throw ConsulRequestError(description: Self.redact("GET \(path): \(error)", secret))
        }
        guard response.status == 200 else {
            let e = HTTPStatusError(status: response.status, body: response.body, context: "GET \(path)")
            throw ConsulRequestError(description: Self.redact(e.description, secret))
        }
        let newIndex = response.header("X-Consul-Index").flatMap { UInt64($0.trimmingCharacters(in: .whitespaces)) } ?? 0
        var distrust: String? = nil
        if response.header("X-Consul-KnownLeader")?.lowercased() == "false" {
            distrust = "Consul reports no known leader"
        } else if let lc = response.header("X-Consul-LastContact").flatMap({ Int64($0.trimmingCharacters(in: .whitespaces)) }),
                  lc > settings.maxLastContact.milliseconds {
            distrust = "Consul server last contact with the leader \(lc)ms ago"
        }
        return (response.body, AnswerMeta(index: newIndex, distrust: distrust))
    }

    static func redact(_ text: String, _ secret: String) -> String {
        secret.count >= 4 ? text.replacingOccurrences(of: secret, with: "<redacted>") : text
    }

    static func percentEncode(_ s: String) -> String { PercentEncoding.encode(s) }
}

/// Combines answers into per-source snapshots and emits an update only when a source's instances (or its suspect
/// state) change. Synchronous and locked, so updates leave in answer order.
final class SnapshotAssembler: Sendable {
    private struct Published: Equatable {
        var instances: [Instance]
        var suspect: String?
    }

    private struct State {
        var answers: [WatchKey: (entries: [JSONValue], distrust: String?)] = [:]
        /// Watches making up each selector source; nil until the catalog answered.
        var members: [String: Set<WatchKey>] = [:]
        var published: [String: Published] = [:]
        var warnings: [String: Set<MappingWarning>] = [:]
    }

    private let sources: [ConsulSource]
    private let state = Mutex(State())
    private let updates: AsyncStream<ProviderUpdate>.Continuation
    private let logger: Logger

    init(sources: [ConsulSource], updates: AsyncStream<ProviderUpdate>.Continuation, logger: Logger) {
        self.sources = sources
        self.updates = updates
        self.logger = logger
    }

    func receive(_ key: WatchKey, entries: [JSONValue], distrust: String?) {
        state.withLock { s in
            s.answers[key] = (entries, distrust)
            let affected = sources.filter { src in
                if case .name(let n) = src.selector { return WatchKey(service: n, params: src.params) == key }
                return s.members[src.key]?.contains(key) ?? false
            }
            emit(affected, &s)
        }
    }

    func setMembers(_ members: [String: Set<WatchKey>], forget: Set<WatchKey>) {
        state.withLock { s in
            for k in forget { s.answers[k] = nil }
            var affected: [ConsulSource] = []
            for src in sources {
                guard let m = members[src.key], s.members[src.key] != m else { continue }
                s.members[src.key] = m
                affected.append(src)
            }
            emit(affected, &s)
        }
    }

    private func keys(of src: ConsulSource, _ s: State) -> Set<WatchKey>? {
        if case .name(let n) = src.selector { return [WatchKey(service: n, params: src.params)] }
        return s.members[src.key]
    }

    private func emit(_ affected: [ConsulSource], _ s: inout State) {
        var bySuspect: [String?: [String: [Instance]]] = [:]
        for src in affected {
            guard let keys = keys(of: src, s) else { continue }
            var instances: [String: Instance] = [:]
            var distrust: String? = nil
            var warnings: Set<MappingWarning> = []
            var ready = true
            for key in keys.sorted(by: { $0.service < $1.service }) {
                guard let answer = s.answers[key] else { ready = false; break }
                if let d = answer.distrust { distrust = d }
                for entry in answer.entries {
                    switch ConsulMapping.instance(from: entry, address: src.addressMode, service: key.service) {
                    case .success(let i):
                        if instances[i.id] != nil {
                            warnings.insert(MappingWarning(service: key.service, id: i.id, reason: "duplicate instance id"))
                        } else {
                            instances[i.id] = i
                        }
                    case .failure(let w): warnings.insert(w)
                    }
                }
            }
            guard ready else { continue }  // a member service has not answered yet: wait rather than publish a partial list
            if s.warnings[src.key] != warnings {
                for w in warnings.subtracting(s.warnings[src.key] ?? []) {
                    logger.warning("\(w.description)", metadata: ["source": "\(src.key)"])
                }
                s.warnings[src.key] = warnings
            }
            let list = instances.values.sorted { $0.id < $1.id }
            let previous = s.published[src.key]
            var suspect: String? = nil
            if let distrust {
                let previousCount = previous?.instances.count ?? 0
                if list.isEmpty {
                    suspect = "\(distrust); answer is empty"
                } else if list.count * 2 < previousCount {
                    suspect = "\(distrust); answer shrinks \(previousCount) instances to \(list.count)"
                }
            }
            let next = Published(instances: list, suspect: suspect)
            guard next != previous else { continue }
            s.published[src.key] = next
            bySuspect[suspect, default: [:]][src.key] = list
        }
        for (suspect, sources) in bySuspect.sorted(by: { ($0.key ?? "") < ($1.key ?? "") }) {
            if let suspect { logger.warning("publishing a suspect answer", metadata: ["reason": "\(suspect)"]) }
            updates.yield(ProviderUpdate(provider: "consul", sources: sources, suspectReason: suspect))
        }
    }
}
