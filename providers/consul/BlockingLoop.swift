import DiscoveryCore
import Logging

/// One blocking-query loop: rate limit, request, Consul's index rules, hand the answer over, report, back off.
///
/// Retries forever and returns only when its task is cancelled. A refusal (429) waits out the gate's shared pause
/// rather than a backoff of its own, so refused watches never retry in a storm.
struct BlockingLoop: Sendable {
    let client: ConsulClient
    let sink: any ProviderSink
    let logger: Logger
    let path: String
    let query: [(String, String)]
    let what: String

    init(client: ConsulClient, sink: any ProviderSink, logger: Logger, path: String, query: [(String, String)] = [], what: String) {
        self.client = client
        self.sink = sink
        self.logger = logger
        self.path = path
        self.query = query
        self.what = what
    }

    /// Runs from `index` (0: start with a non-blocking read). `handle` gets each answer and whether its index
    /// went backwards (a snapshot restore: the caller may want to re-read everything).
    func run(from start: UInt64 = 0, _ handle: (_ answer: ConsulAnswer, _ reset: Bool) async throws(ConsulRequestError) -> Void) async {
        var index = start
        var bucket = TokenBucket(interval: client.settings.minRequestInterval)
        var backoff = Backoff(base: min(.milliseconds(200), client.settings.retryMax), cap: client.settings.retryMax)
        var failing = false
        while !Task.isCancelled {
            let delay = bucket.take(now: .now)
            if delay > .zero {
                do { try await Task.sleep(for: delay) } catch { return }
            }
            do throws(ConsulRequestError) {
                let answer = try await client.get(path, query: query, index: index)
                var reset = false
                if answer.index < index {
                    logger.info("Consul index went backwards; resetting", metadata: ["watch": "\(what)", "from": "\(index)", "to": "\(answer.index)"])
                    index = 0
                    reset = true
                } else {
                    // Never block on index 0 (it would not block): at least 1.
                    index = max(answer.index, 1)
                }
                try await handle(answer, reset)
                if failing {
                    logger.info("Consul answers again", metadata: ["watch": "\(what)"])
                    failing = false
                }
                backoff.reset()
                await sink.reportSuccess(provider: "consul")
            } catch {
                if error.kind == .cancelled || Task.isCancelled { return }
                await sink.reportFailure(provider: "consul", error: error.description)
                if error.kind == .refused { continue }  // the gate's pause is the wait, logged once per episode
                failing = true
                let delay = backoff.next()
                logger.warning("Consul request failed; retrying", metadata: [
                    "watch": "\(what)", "error": "\(error.description)", "retry_in": "\(delay)",
                ])
                do { try await Task.sleep(for: delay) } catch { return }
            }
        }
    }
}
