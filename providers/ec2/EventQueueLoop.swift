import DiscoveryCore
import Logging

/// Long-polls the provider's SQS queue and hands each message to the provider; deletes what was acted on.
///
/// Errors and throttling back off for this queue alone (the shared full-jitter `Backoff`, 1 s doubling to 60 s); DescribeInstances
/// polling goes on meanwhile. A message that keeps failing is deleted once SQS has delivered it `max_receives` times
/// (a queue redrive policy with a lower `maxReceiveCount` moves it to a dead-letter queue first).
struct EventQueueLoop: Sendable {
    let state: RefreshLoop
    let config: EC2EventsConfig
    let sqs: SQSClient
    let credentials: CredentialChain
    let logger: Logger

    func run(sink: any ProviderSink) async {
        await state.waitForFirstRefresh()
        logger.info("ec2: listening for events", metadata: ["queue": "\(config.queueURL)"])
        var failures = 0
        var backoff = Backoff(base: .seconds(1), cap: .seconds(60))
        while !Task.isCancelled {
            let fallback = await state.regions.first ?? "us-east-1"
            let region = sqs.queue.region ?? fallback
            do throws(EC2Error) {
                let creds = try await credentials.current(stsRegion: region)
                let messages = try await sqs.receive(region: region, credentials: creds)
                if failures > 0 {
                    logger.notice("ec2: event queue answers again", metadata: ["queue": "\(config.queueURL)", "failures": "\(failures)"])
                    failures = 0
                    backoff.reset()
                }
                var done: [String] = []
                for m in messages {
                    switch await state.handle(m, sink: sink) {
                    case .delete:
                        done.append(m.receiptHandle)
                    case .keep where m.receiveCount >= config.maxReceives:
                        logger.error("ec2: event message failed \(m.receiveCount) times; deleted (max_receives)", metadata: ["message": "\(m.messageID)"])
                        done.append(m.receiptHandle)
                    case .keep:
                        break
                    }
                }
                let undeleted = try await sqs.delete(done, region: region, credentials: creds)
                if !undeleted.isEmpty {
                    logger.warning("ec2: SQS did not delete some messages; their redelivery is recognised as a duplicate", metadata: ["count": "\(undeleted.count)"])
                }
            } catch {
                if Task.isCancelled { return }
                failures += 1
                if error.isAuthFailure { await credentials.invalidate() }
                let delay = backoff.next()
                let meta: Logger.Metadata = ["queue": "\(config.queueURL)", "error": "\(error)", "retry_in": "\(delay)", "failures": "\(failures)"]
                // The first failure and then one in ten at warning: a queue that stays down must not flood the log.
                if failures == 1 || failures % 10 == 0 {
                    logger.warning("ec2: event queue failing; DescribeInstances polling continues", metadata: meta)
                } else {
                    logger.debug("ec2: event queue failing", metadata: meta)
                }
                do { try await Task.sleep(for: delay) } catch { return }
            }
        }
    }
}
