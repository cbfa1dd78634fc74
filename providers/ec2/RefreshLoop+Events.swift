import DiscoveryCore
import FoundationEssentials
import Logging

/// What became of one SQS message.
enum MessageOutcome: Sendable, Equatable {
    /// Acted on, or never actionable: delete it.
    case delete
    /// A failure worth retrying (DescribeInstances failed): leave it for redelivery, up to `max_receives`.
    case keep
}

extension RefreshLoop {
    func enableEvents(_ config: EC2EventsConfig, lifecycle: LifecycleActions?, inbox: ReleaseInbox) {
        events = config
        self.lifecycle = lifecycle
        self.inbox = inbox
        overlay.drainOnRebalance = config.drainOnRebalance
    }

    /// Returns once the first refresh has succeeded: before it, every drain event would name an unknown instance.
    func waitForFirstRefresh() async {
        if hasTruth { return }
        for await _ in firstRefresh.stream {}
    }

    /// Updates the index, keeps instances an event described after the refresh began, and ends overlay marks.
    func absorbRefresh(startedAt: ContinuousClock.Instant) {
        for (id, entry) in eventDescribed {
            if entry.at > startedAt {
                var list = truth[entry.region] ?? []
                if let i = list.firstIndex(where: { $0.instanceID == id }) { list[i] = entry.instance } else { list.append(entry.instance) }
                truth[entry.region] = list
            } else {
                eventDescribed[id] = nil
            }
        }
        rebuildIndex()
        var present: [String: String] = [:]
        for list in truth.values {
            for i in list where known[i.instanceID] != nil { present[i.instanceID] = i.state }
        }
        let wallStarted = Date().timeIntervalSince1970 - (ContinuousClock.now - startedAt).seconds
        for id in overlay.refreshed(present: present, startedAt: wallStarted) {
            logger.warning("ec2: DescribeInstances still reports running long after a state-change event; serving it again", metadata: ["instance": "\(id)"])
        }
        if !hasTruth {
            hasTruth = true
            firstRefresh.continuation.finish()
        }
    }

    func rebuildIndex() {
        known = [:]
        for (region, list) in truth {
            for i in list {
                if let s = i.tags[config.serviceTag], services.contains(s) { known[i.instanceID] = region }
            }
        }
    }

    /// The id the provider publishes for a bare instance id.
    func publishedID(_ id: String, region: String) -> String {
        regions.count > 1 ? "\(region)/\(id)" : id
    }

    /// Instances with an event drain mark are published in `maintenance`, which no health policy serves.
    func drained(_ instances: [Instance]) -> [Instance] {
        instances.map { i in
            guard let bare = i.meta["ec2.instance_id"], let mark = overlay.marks[bare] else { return i }
            var d = i
            d.health = .maintenance
            d.meta["ec2.event_drain"] = "\(mark.drain)"
            return d
        }
    }

    /// Acts on one message: drains, describes, or rejects it; never throws and never removes a server on bad input.
    func handle(_ message: SQSMessage, sink: any ProviderSink) async -> MessageOutcome {
        let event: EC2Event
        switch EC2EventParser.parse(message.body) {
        case .ignored(let why):
            logger.debug("ec2: event ignored", metadata: ["reason": "\(why)", "message": "\(message.messageID)"])
            return .delete
        case .invalid(let why):
            badInput.log(logger, "ec2: unusable event message deleted", ["reason": "\(why)", "message": "\(message.messageID)"])
            return .delete
        case .event(let e):
            event = e
        }
        var meta: Logger.Metadata = ["event": "\(event.summary)", "instance": "\(event.instanceID)", "message": "\(message.messageID)"]
        if let r = event.region, !regions.contains(r) {
            meta["region"] = "\(r)"
            badInput.log(logger, "ec2: event from a region this provider does not watch; deleted", meta)
            return .delete
        }
        if let a = event.account, let expected = events?.expectedAccount, a != expected {
            meta["account"] = "\(a)"
            badInput.log(logger, "ec2: event from another account; deleted", meta)
            return .delete
        }
        let verdict = overlay.apply(event, known: known[event.instanceID] != nil, now: Date().timeIntervalSince1970)
        switch verdict {
        case .duplicate:
            badInput.log(logger, "ec2: duplicate event deleted", meta, level: .info)
            return .delete
        case .outOfOrder:
            badInput.log(logger, "ec2: event older than one already applied to this instance; deleted", meta)
            return .delete
        case .unknownInstance:
            badInput.log(logger, "ec2: event for an instance this provider does not serve; deleted", meta, level: .info)
            return .delete
        case .notDraining:
            logger.info("ec2: rebalance recommendation (drain_on_rebalance is off)", metadata: meta)
            return .delete
        case .drain:
            let region = known[event.instanceID] ?? regions.first ?? ""
            if case .terminating(let action) = event.kind, let lifecycle {
                await lifecycle.add(action, region: region, publishedID: publishedID(event.instanceID, region: region))
            }
            logger.info("ec2: event drains instance", metadata: meta)
            await publishIfChanged(sink: sink)
            return .delete
        case .describe:
            do throws(EC2Error) {
                let found = try await describeInstance(event.instanceID, region: event.region ?? known[event.instanceID])
                guard let (region, instance) = found else {
                    logger.info("ec2: instance not returned with the service tags; nothing added", metadata: meta)
                    return .delete
                }
                absorbDescribed(instance, region: region)
                logger.info("ec2: event described instance", metadata: meta.merging(["state": "\(instance.state)"]) { a, _ in a })
                await publishIfChanged(sink: sink)
                return .delete
            } catch {
                overlay.forget(event.id)
                logger.warning("ec2: DescribeInstances for an event failed; the message stays for redelivery", metadata: meta.merging(["error": "\(error)"]) { a, _ in a })
                return .keep
            }
        }
    }

    func absorbDescribed(_ instance: EC2Instance, region: String) {
        var list = truth[region] ?? []
        if let i = list.firstIndex(where: { $0.instanceID == instance.instanceID }) { list[i] = instance } else { list.append(instance) }
        truth[region] = list
        eventDescribed[instance.instanceID] = (region, instance, .now)
        known[instance.instanceID] = region
    }

    /// DescribeInstances for one id, with the provider's filters, in `region` or else every region; nil when not returned.
    func describeInstance(_ id: String, region: String?) async throws(EC2Error) -> (String, EC2Instance)? {
        for r in region.map({ [$0] }) ?? regions {
            var params: [(String, String)] = [("Action", "DescribeInstances"), ("Version", "2016-11-15"), ("InstanceId.1", id)]
            params += filterParameters()
            do throws(EC2Error) {
                let (page, _) = try await call(region: r, body: Array(QueryEncoding.form(params).utf8))
                if let i = page.instances.first(where: { $0.instanceID == id }) { return (r, i) }
            } catch {
                if case .api(_, let code, _) = error, code.hasPrefix("InvalidInstanceID") { continue }
                throw error
            }
        }
        return nil
    }
}

/// Logs rejected event messages without letting a flood of them drown the log: 20 lines a minute, then a count.
struct BadInputLog: Sendable {
    private var windowStart = ContinuousClock.now
    private var logged = 0
    private var suppressed = 0

    mutating func log(_ logger: Logger, _ message: Logger.Message, _ metadata: Logger.Metadata, level: Logger.Level = .warning) {
        let now = ContinuousClock.now
        if now - windowStart >= .seconds(60) {
            if suppressed > 0 { logger.warning("ec2: more event messages rejected", metadata: ["count": "\(suppressed)"]) }
            windowStart = now
            logged = 0
            suppressed = 0
        }
        guard logged < 20 else {
            suppressed += 1
            logger.debug(message, metadata: metadata)
            return
        }
        logged += 1
        logger.log(level: level, message, metadata: metadata)
    }
}
