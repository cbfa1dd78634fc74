import DiscoveryCore
import FoundationEssentials
import Logging

/// Terminating instances waiting in `Terminating:Wait`: heartbeats while HAProxy drains them, `CONTINUE` once the
/// core says they take no traffic anywhere.
///
/// Tokens live in memory only: after a bridge restart or a config reload the hook's heartbeat timeout ends the wait
/// (with the hook's default result; a terminating instance terminates either way).
final actor LifecycleActions {
    struct Pending: Sendable {
        var action: LifecycleAction
        var region: String
        /// The id the provider publishes (region-prefixed with several regions), which the core's feedback names.
        var publishedID: String
        var receivedAt: ContinuousClock.Instant
        var lastHeartbeat: ContinuousClock.Instant
        var gaveUpHeartbeats = false
    }

    let config: EC2EventsConfig
    let client: AutoScalingClient
    let credentials: CredentialChain
    let logger: Logger
    private(set) var pending: [String: Pending] = [:]
    private var wake: AsyncStream<Void>.Continuation?
    private var wakeStream: AsyncStream<Void>?
    /// `CompleteLifecycleAction` calls that succeeded, and those that were given up (exported as metrics).
    private(set) var completed = 0
    private(set) var failed = 0
    private var sink: (any ProviderSink)?

    init(config: EC2EventsConfig, client: AutoScalingClient, credentials: CredentialChain, logger: Logger) {
        self.config = config
        self.client = client
        self.credentials = credentials
        self.logger = logger
    }

    /// Reports the completion counters to `sink` now and after every completion, so the counters exist from the
    /// start (an alert on `increase()` then sees the first failure).
    func report(to sink: any ProviderSink) async {
        self.sink = sink
        await reportMetrics()
    }

    private func reportMetrics() async {
        guard let sink else { return }
        await sink.reportMetrics(provider: "ec2", [
            ProviderMetric(name: "discovery_bridge_lifecycle_completions_total",
                           help: "Auto Scaling lifecycle actions completed with CONTINUE after their instance drained.",
                           kind: .counter, value: Double(completed)),
            ProviderMetric(name: "discovery_bridge_lifecycle_completion_failures_total",
                           help: "Lifecycle actions whose CompleteLifecycleAction failed for good (the hook's timeout ends the wait).",
                           kind: .counter, value: Double(failed)),
            ProviderMetric(name: "discovery_bridge_lifecycle_actions_pending",
                           help: "Terminating instances waiting for their drain before their lifecycle action completes.",
                           kind: .gauge, value: Double(pending.count)),
        ])
    }

    /// Starts tracking a terminating instance; false when its token is already tracked.
    @discardableResult
    func add(_ action: LifecycleAction, region: String, publishedID: String) -> Bool {
        if pending[publishedID]?.action.token == action.token { return false }
        let now = ContinuousClock.now
        pending[publishedID] = Pending(action: action, region: region, publishedID: publishedID, receivedAt: now, lastHeartbeat: now)
        logger.info("ec2: terminating instance drains before its lifecycle action completes", metadata: [
            "instance": "\(action.instanceID)", "group": "\(action.group)", "hook": "\(action.hook)",
        ])
        wake?.yield()
        return true
    }

    /// The published ids the provider asks the core about.
    var watchIDs: Set<String> { Set(pending.keys) }

    /// The core says these ids take no traffic anywhere: complete their actions with `CONTINUE`.
    func released(_ ids: [String]) async {
        await withTaskGroup(of: Void.self) { group in
            for id in ids {
                guard let p = pending.removeValue(forKey: id) else { continue }
                group.addTask { await self.complete(p) }
            }
        }
    }

    /// Completes with retries: throttling, 5xx and transport errors back off (up to about a minute in all).
    private func complete(_ p: Pending) async {
        var backoff = Backoff(base: .milliseconds(250), cap: .seconds(15))
        for attempt in 1...8 {
            do throws(EC2Error) {
                let creds = try await credentials.current(stsRegion: p.region)
                try await client.complete(p.action, region: p.region, credentials: creds)
                completed += 1
                await reportMetrics()
                logger.notice("ec2: drained; lifecycle action completed with CONTINUE", metadata: [
                    "instance": "\(p.action.instanceID)", "group": "\(p.action.group)", "hook": "\(p.action.hook)",
                    "waited": "\(DurationText.format(ContinuousClock.now - p.receivedAt))",
                ])
                return
            } catch {
                if error.isGoneLifecycleAction {
                    logger.info("ec2: lifecycle action already ended (completed elsewhere or timed out)", metadata: ["instance": "\(p.action.instanceID)", "error": "\(error)"])
                    await reportMetrics()
                    return
                }
                if error.isAuthFailure { await credentials.invalidate() }
                guard error.isRetryable || error.isAuthFailure || error.isTransport, attempt < 8, !Task.isCancelled else {
                    failed += 1
                    await reportMetrics()
                    logger.error("ec2: CompleteLifecycleAction failed; the hook's timeout will end the wait", metadata: ["instance": "\(p.action.instanceID)", "error": "\(error)"])
                    return
                }
                do { try await Task.sleep(for: backoff.next()) } catch { return }
            }
        }
    }

    /// Sends heartbeats every `heartbeat_interval` for each action still draining; returns when cancelled.
    func runHeartbeats() async {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        wake = continuation
        var iterator = stream.makeAsyncIterator()
        while !Task.isCancelled {
            await reportMetrics()
            let due = pending.values.filter { !$0.gaveUpHeartbeats }.map { $0.lastHeartbeat + config.heartbeatInterval }.min()
            guard let due else {
                guard await iterator.next() != nil else { return }
                continue
            }
            do { try await Task.sleep(until: due) } catch { return }
            await sendDueHeartbeats()
        }
    }

    private func sendDueHeartbeats() async {
        let now = ContinuousClock.now
        for (id, p) in pending where !p.gaveUpHeartbeats && now >= p.lastHeartbeat + config.heartbeatInterval {
            if now - p.receivedAt >= config.maxLifecycleWait {
                pending[id]?.gaveUpHeartbeats = true
                logger.warning("ec2: still draining after max_lifecycle_wait; no more heartbeats (the hook's timeout decides)", metadata: ["instance": "\(p.action.instanceID)"])
                continue
            }
            pending[id]?.lastHeartbeat = now
            do throws(EC2Error) {
                let creds = try await credentials.current(stsRegion: p.region)
                try await client.heartbeat(p.action, region: p.region, credentials: creds)
                logger.debug("ec2: lifecycle heartbeat sent", metadata: ["instance": "\(p.action.instanceID)"])
            } catch {
                if error.isGoneLifecycleAction {
                    pending[id] = nil
                    logger.warning("ec2: lifecycle action ended before the drain finished (hook timeout or completed elsewhere)", metadata: ["instance": "\(p.action.instanceID)"])
                } else {
                    logger.warning("ec2: lifecycle heartbeat failed; retrying at the next interval", metadata: ["instance": "\(p.action.instanceID)", "error": "\(error)"])
                }
            }
        }
    }
}

extension EC2Error {
    /// The request got no answer at all.
    var isTransport: Bool {
        if case .transport = self { return true }
        return false
    }
}
