import CurlHTTP
import DiscoveryCore
import FoundationEssentials
import Logging

/// Builds the EC2 provider from `providers.ec2`; sources are `{ "provider": "ec2", "service": "<tag value>" }`.
public struct EC2ProviderFactory: ProviderFactory {
    public let name = "ec2"

    public init() {}

    public func makeProvider(config: JSONValue, path: String, sources: [SourceSpec], context: ProviderContext) throws(ConfigError) -> any DiscoveryProvider {
        let c = try EC2Config.parse(config, path: path, configDirectory: context.configDirectory)
        for s in sources {
            if let key = s.options.keys.sorted().first {
                throw ConfigError(path: ConfigPath.key(s.path, key), "unknown key (ec2 sources take only \"provider\" and \"service\")")
            }
            guard !s.service.isEmpty, s.service.utf8.count <= 256 else {
                throw ConfigError(path: ConfigPath.key(s.path, "service"), "expected a tag value of 1 to 256 characters")
            }
        }
        return EC2Provider(config: c, sources: sources, context: context)
    }
}

/// Polls DescribeInstances in every configured region and publishes the instances tagged with each watched service.
///
/// One request chain (pages of 1000) per region per refresh serves every source. If any region fails, the refresh
/// publishes nothing and reports a failure, so every source keeps its last good snapshot. A snapshot is published
/// only when the mapped instances changed; every good refresh is reported as a success.
public struct EC2Provider: DiscoveryProvider {
    public let name = "ec2"
    public let config: EC2Config
    public let sources: [SourceSpec]
    let environment: [String: String]
    let logger: Logger
    /// Replaces the libcurl transport (tests count or fault requests with it).
    let transportOverride: (any AWSTransport)?

    init(config: EC2Config, sources: [SourceSpec], context: ProviderContext, transport: (any AWSTransport)? = nil) {
        self.config = config
        var seen = Set<String>()
        self.sources = sources.filter { seen.insert($0.key).inserted }
        self.environment = context.environment
        self.logger = context.logger
        self.transportOverride = transport
    }

    /// The region from `AWS_REGION`, `AWS_DEFAULT_REGION` or the profile's `region` in the shared config file.
    static func localRegion(config: EC2Config, environment: [String: String]) -> String? {
        for name in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
            if let r = environment[name], EC2Config.isRegionName(r) { return r }
        }
        let profile = config.credentials.profile ?? environment["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        if let r = SharedCredentialFiles(environment: environment).region(profile: profile), EC2Config.isRegionName(r) { return r }
        return nil
    }

    /// Three refresh intervals plus one request timeout.
    public var stalenessLimit: Duration { config.refreshInterval * 3 + config.timeout }

    public func run(sink: any ProviderSink) async throws {
        let client: HTTPClient?
        let transport: any AWSTransport
        if let t = transportOverride {
            client = nil
            transport = t
        } else {
            let c = HTTPClient(logger: logger)
            client = c
            transport = CurlTransport(client: c)
        }
        defer { client?.shutdown() }
        let state = RefreshLoop(provider: self, transport: transport)
        guard let events = config.events, let queue = SQSQueueURL(events.queueURL) else {
            await state.run(sink: sink)
            return
        }
        let inbox = ReleaseInbox()
        let lifecycle = events.completeLifecycleActions
            ? LifecycleActions(config: events, client: AutoScalingClient(config: events, transport: transport, timeout: config.timeout),
                               credentials: state.credentials, logger: logger)
            : nil
        await state.enableEvents(events, lifecycle: lifecycle, inbox: inbox)
        let pump = EventQueueLoop(state: state, config: events,
                                  sqs: SQSClient(queue: queue, queueURL: events.queueURL, transport: transport, timeout: config.timeout),
                                  credentials: state.credentials, logger: logger)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await state.run(sink: sink) }
            group.addTask { await pump.run(sink: sink) }
            if let lifecycle {
                await lifecycle.report(to: sink)
                group.addTask { await lifecycle.runHeartbeats() }
                group.addTask {
                    await withTaskGroup(of: Void.self) { completions in
                        for await ids in inbox.stream {
                            completions.addTask { await lifecycle.released(ids) }
                        }
                    }
                }
            }
            await group.waitForAll()
        }
        inbox.finish()
    }
}

/// The mutable state of one running provider: credentials, last snapshot, backoff.
final actor RefreshLoop {
    let provider: EC2Provider
    let config: EC2Config
    let transport: any AWSTransport
    let credentials: CredentialChain
    let mapper: EC2Mapper
    let logger: Logger
    let services: Set<String>

    var regions: [String] = []
    var lastPublished: [String: [Instance]]?
    /// The last refresh's instances per region, plus instances an event's DescribeInstances added since.
    var truth: [String: [EC2Instance]] = [:]
    /// Bare instance id → region, for every instance of `truth` tagged with a watched service.
    var known: [String: String] = [:]
    /// Instances described for an event after a refresh began: that refresh's older answer must not drop them.
    var eventDescribed: [String: (region: String, instance: EC2Instance, at: ContinuousClock.Instant)] = [:]
    var overlay = EventOverlay(drainOnRebalance: false)
    var events: EC2EventsConfig?
    var lifecycle: LifecycleActions?
    var inbox: ReleaseInbox?
    var lastWatch: Set<String>?
    /// Finished by the first good refresh; the event pump waits on it (cancellably).
    let firstRefresh = AsyncStream<Void>.makeStream()
    var hasTruth = false
    var badInput = BadInputLog()
    var warned = Set<EC2Mapper.Warning>()
    /// Consecutive throttled refreshes per region, for the backoff.
    var throttled: [String: Int] = [:]
    /// Requests sent in the last refresh (pages, retries), for tests and logs.
    private(set) var lastRequestCount = 0

    init(provider: EC2Provider, transport: any AWSTransport) {
        self.provider = provider
        self.config = provider.config
        self.transport = transport
        self.logger = provider.logger
        self.credentials = CredentialChain(config: provider.config, environment: provider.environment, transport: transport, logger: provider.logger)
        self.mapper = EC2Mapper(config: provider.config)
        self.services = Set(provider.sources.map(\.service))
    }

    func run(sink: any ProviderSink) async {
        while !Task.isCancelled {
            var delay = Self.jittered(config.refreshInterval, by: 0.1)
            do {
                try await refresh(sink: sink)
                await sink.reportSuccess(provider: "ec2")
            } catch {
                if Task.isCancelled { return }
                logger.warning("ec2: refresh failed; keeping the last good snapshot", metadata: ["error": "\(error)"])
                await sink.reportFailure(provider: "ec2", error: "\(error)")
                if let worst = throttled.values.max(), worst > 0 {
                    let factor = 1 << min(worst - 1, 5)
                    let cap = max(config.refreshInterval, .seconds(300))
                    delay = Self.jittered(min(config.refreshInterval * factor, cap), by: 0.2)
                }
            }
            do { try await Task.sleep(for: delay) } catch { return }
        }
    }

    static func jittered(_ d: Duration, by fraction: Double) -> Duration {
        d * Double.random(in: (1 - fraction)...(1 + fraction))
    }

    func resolveRegions() async throws(EC2Error) -> [String] {
        if !regions.isEmpty { return regions }
        if !config.regions.isEmpty {
            regions = config.regions
        } else if let r = EC2Provider.localRegion(config: config, environment: provider.environment) {
            regions = [r]
        } else if provider.environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() == "true" {
            throw EC2Error.region("no regions configured, AWS_REGION/AWS_DEFAULT_REGION unset, no region in the shared config file, and IMDS disabled")
        } else {
            do {
                regions = [try await IMDS(endpoint: config.imdsEndpoint, transport: transport, timeout: config.timeout).region()]
            } catch {
                throw EC2Error.region("no regions configured, AWS_REGION/AWS_DEFAULT_REGION unset, and IMDS did not answer: \(error)")
            }
            logger.info("ec2: using the region of this instance", metadata: ["region": "\(regions[0])"])
        }
        return regions
    }

    /// One refresh: all regions, then publish if anything changed. Throws when any region failed.
    func refresh(sink: any ProviderSink) async throws(EC2Error) {
        let regions = try await resolveRegions()
        let started = ContinuousClock.now
        // Regions concurrently; each child returns a final class (not a tuple of Results: the Swift 6.3 release
        // build miscompiled that shape and crashed copying the task group's tuple result).
        let results = await withTaskGroup(of: RegionOutcome.self) { group in
            for region in regions {
                group.addTask { [self] in
                    do throws(EC2Error) {
                        return RegionOutcome(region: region, result: .success(try await self.describe(region: region)))
                    } catch {
                        return RegionOutcome(region: region, result: .failure(error))
                    }
                }
            }
            var out: [String: Result<([EC2Instance], Int), EC2Error>] = [:]
            for await outcome in group { out[outcome.region] = outcome.result }
            return out
        }
        var perRegion: [(region: String, instances: [EC2Instance])] = []
        var failures: [String] = []
        var requests = 0
        for region in regions {
            switch results[region] {
            case .success(let (instances, n)):
                requests += n
                throttled[region] = 0
                perRegion.append((region, instances))
            case .failure(let e):
                if e.isRetryable { throttled[region, default: 0] += 1 }
                failures.append("\(region): \(e)")
            case .none:
                failures.append("\(region): no result")
            }
        }
        lastRequestCount = requests
        if !failures.isEmpty {
            throw EC2Error.transport(failures.joined(separator: "; "))
        }
        truth = Dictionary(perRegion.map { ($0.region, $0.instances) }, uniquingKeysWith: { a, _ in a })
        absorbRefresh(startedAt: started)
        let elapsed = ContinuousClock.now - started
        logger.debug("ec2: refresh done", metadata: [
            "regions": "\(regions.count)", "requests": "\(requests)",
            "instances": "\(perRegion.reduce(0) { $0 + $1.instances.count })", "elapsed": "\(elapsed)",
        ])
        await publishIfChanged(sink: sink)
    }

    /// Maps `truth` (with event drains laid over it) and publishes when the snapshot or the release watch changed.
    func publishIfChanged(sink: any ProviderSink) async {
        var warnings: [EC2Mapper.Warning] = []
        let byService = mapper.group(regions.map { (region: $0, instances: truth[$0] ?? []) }, services: services, warnings: &warnings)
        for w in warnings where !warned.contains(w) {
            if warned.count > 10_000 { warned.removeAll() }
            warned.insert(w)
            logger.warning("ec2: \(w.message)", metadata: ["instance": "\(w.instanceID)"])
        }
        var snapshot: [String: [Instance]] = [:]
        for s in provider.sources { snapshot[s.key] = overlay.marks.isEmpty ? (byService[s.service] ?? []) : drained(byService[s.service] ?? []) }
        let watch = await lifecycle?.watchIDs
        if snapshot != lastPublished || watch != lastWatch {
            lastPublished = snapshot
            lastWatch = watch
            let releaseWatch = inbox.map { ReleaseWatch(ids: watch ?? [], receiver: $0) }
            await sink.publish(ProviderUpdate(provider: "ec2", sources: snapshot, releaseWatch: releaseWatch))
        }
    }

    /// The filters of every DescribeInstances call, as Query parameters.
    func filterParameters() -> [(String, String)] {
        var filters: [(String, [String])] = [
            ("tag:\(config.serviceTag)", services.sorted()),
            ("instance-state-name", ["running", "pending", "stopping", "shutting-down"]),
        ]
        for name in config.filters.keys.sorted() { filters.append((name, config.filters[name] ?? [])) }
        var params: [(String, String)] = []
        for (i, f) in filters.enumerated() {
            params.append(("Filter.\(i + 1).Name", f.0))
            for (j, v) in f.1.enumerated() { params.append(("Filter.\(i + 1).Value.\(j + 1)", v)) }
        }
        return params
    }

    /// All pages of DescribeInstances in one region; returns the instances and the number of requests sent.
    func describe(region: String) async throws(EC2Error) -> ([EC2Instance], Int) {
        var all: [EC2Instance] = []
        var token: String?
        var requests = 0
        var pages = 0
        repeat {
            var params: [(String, String)] = [("Action", "DescribeInstances"), ("Version", "2016-11-15"), ("MaxResults", "1000")]
            params += filterParameters()
            if let token { params.append(("NextToken", token)) }
            let (page, n) = try await call(region: region, body: Array(QueryEncoding.form(params).utf8))
            requests += n
            pages += 1
            all += page.instances
            if let next = page.nextToken, next == token {
                throw EC2Error.malformed("DescribeInstances returned the same NextToken twice")
            }
            token = page.nextToken
            guard pages < 10_000 else { throw EC2Error.malformed("DescribeInstances did not stop paginating after 10000 pages") }
        } while token != nil
        return (all, requests)
    }

    static let maxRetries = 3

    /// One page with retries: throttling / 5xx back off (jittered, capped), an auth failure refreshes credentials once.
    func call(region: String, body: [UInt8]) async throws(EC2Error) -> (DescribeInstancesPage, Int) {
        var backoff = Backoff(base: .milliseconds(200), cap: min(config.refreshInterval, .seconds(5)))
        var authRetried = false
        var requests = 0
        while true {
            let creds = try await credentials.current(stsRegion: regions.first ?? region)
            let request = AWSRequest(
                method: "POST", url: config.ec2Endpoint(region: region) + "/",
                headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
                body: body, timeout: config.timeout,
                signing: AWSSigning(region: region, service: "ec2", credentials: creds))
            requests += 1
            do throws(EC2Error) {
                let response = try await transport.send(request)
                guard response.status == 200 else {
                    if let e = EC2XML.apiError(response.body) {
                        throw EC2Error.api(status: response.status, code: e.code, message: e.message)
                    }
                    if response.status == 429 || response.status >= 500 {
                        throw EC2Error.api(status: response.status, code: "", message: "no error document")
                    }
                    throw EC2Error.malformed("HTTP \(response.status) without an AWS error document")
                }
                return (try EC2XML.describeInstances(response.body), requests)
            } catch {
                if Task.isCancelled { throw EC2Error.transport("cancelled") }
                if error.isAuthFailure && !authRetried {
                    authRetried = true
                    await credentials.invalidate()
                    logger.info("ec2: credentials refused; fetching fresh ones", metadata: ["region": "\(region)", "error": "\(error)"])
                    continue
                }
                if error.isRetryable && backoff.attempt < Self.maxRetries {
                    let delay = backoff.next()
                    logger.debug("ec2: retrying", metadata: ["region": "\(region)", "attempt": "\(backoff.attempt)", "error": "\(error)"])
                    do { try await Task.sleep(for: delay) } catch { throw EC2Error.transport("cancelled") }
                    continue
                }
                throw error
            }
        }
    }
}

/// One region's refresh result, handed out of the task group.
final class RegionOutcome: Sendable {
    let region: String
    let result: Result<([EC2Instance], Int), EC2Error>

    init(region: String, result: Result<([EC2Instance], Int), EC2Error>) {
        self.region = region
        self.result = result
    }
}
