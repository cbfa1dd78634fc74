import CurlHTTP
import DiscoveryCore
import Basics
import FoundationEssentials
import Logging
import Synchronization

/// Every request to one Consul address: the shared libcurl client (its connections bounded by the budget), the
/// request gate, the common query parameters, the token and the answer's headers.
final class ConsulClient: Sendable {
    let settings: ConsulSettings
    let http: HTTPClient
    let gate: RequestGate
    let token: TokenReader

    init(settings: ConsulSettings, logger: Logger, onLimitChange: @escaping @Sendable (Int) -> Void) {
        self.settings = settings
        http = HTTPClient(options: HTTPClientOptions(
            maxHostConnections: settings.maxConnections, multiplex: true, maxConcurrentStreams: settings.maxStreamsPerConnection))
        // Until an answer says HTTP/2, one request per connection.
        gate = RequestGate(capacity: settings.maxConnections, floor: 3, retryMax: settings.retryMax, address: settings.address,
                           logger: logger, onLimitChange: onLimitChange)
        token = TokenReader(settings.token, logger: logger)
    }

    func shutdown() { http.shutdown() }

    private let streams = Mutex(1)

    /// Records how many streams one connection carries (1 over HTTP/1.1), sizing the connections to the watches.
    func multiplexing(streams n: Int) {
        streams.withLock { $0 = max(1, n) }
    }

    /// Sizes libcurl's connections to what `requests` in flight need: all of the budget over HTTP/1.1, and
    /// `ceil(requests / streams)` over HTTP/2 (see `HTTPClient.setMaxHostConnections`).
    func expect(requests: Int) {
        let n = streams.withLock { $0 }
        guard n > 1 else { return }
        let needed = (max(requests, 1) + n - 1) / n
        http.setMaxHostConnections(min(settings.maxConnections, needed))
    }

    /// GET `path`; blocking when `index > 0`. Holds a gate permit for the whole round trip.
    func get(_ path: String, query extra: [(String, String)] = [], index: UInt64 = 0) async throws(ConsulRequestError) -> ConsulAnswer {
        guard await gate.acquire() else { throw ConsulRequestError(.cancelled, "cancelled") }
        defer { gate.release() }
        var query: [(String, String)] = []
        if let dc = settings.datacenter { query.append(("dc", dc)) }
        if let ns = settings.namespace { query.append(("ns", ns)) }
        if let p = settings.partition { query.append(("partition", p)) }
        if settings.stale { query.append(("stale", "")) }
        if settings.cached { query.append(("cached", "")) }
        query += extra
        if index > 0 {
            query.append(("index", String(index)))
            query.append(("wait", "\(settings.wait.milliseconds)ms"))
        }
        let qs = query.map { $1.isEmpty ? Self.percentEncode($0) : "\(Self.percentEncode($0))=\(Self.percentEncode($1))" }
        let url = settings.address + path + (qs.isEmpty ? "" : "?" + qs.joined(separator: "&"))
        let timeout = index > 0 ? settings.wait + settings.wait / 16 + .seconds(10) : .seconds(10)
        var request = HTTPRequest(url: url, timeout: timeout)
        request.tls = settings.tls
        let secret = token.current()
        if !secret.isEmpty { request.headers.append(HTTPHeader("X-Consul-Token", secret)) }
        request.headers.append(HTTPHeader("Accept", "application/json"))

        let response: HTTPResponse
        let sentAt = ContinuousClock.now
        do {
            response = try await http.execute(request)
        } catch {
            if error == .cancelled { throw ConsulRequestError(.cancelled, "cancelled") }
            let text = Self.redact("GET \(path): \(error)", secret)
            // A connection Consul closed on arrival (its per-client limit) resets or answers nothing.
            let lower = text.lowercased()
            let refused = lower.contains("reset by peer") || lower.contains("empty reply") || lower.contains("recv failure")
                || lower.contains("send failure")
            if refused { gate.refused(text) }
            throw ConsulRequestError(refused ? .refused : .failed, text)
        }
        guard response.status == 200 else {
            let e = HTTPStatusError(status: response.status, body: response.body, context: "GET \(path)")
            let text = Self.redact(e.description, secret)
            if response.status == 429 {
                gate.refused(text)
                throw ConsulRequestError(.refused, text)
            }
            throw ConsulRequestError(.failed, text)
        }
        gate.succeeded(sentAt: sentAt)
        let newIndex = response.header("X-Consul-Index").flatMap { UInt64($0.trimmingWhitespace()) } ?? 0
        var distrust: String? = nil
        if response.header("X-Consul-KnownLeader")?.lowercased() == "false" {
            distrust = "Consul reports no known leader"
        } else if let lc = response.header("X-Consul-LastContact").flatMap({ Int64($0.trimmingWhitespace()) }),
                  lc > settings.maxLastContact.milliseconds {
            distrust = "Consul server last contact with the leader \(lc)ms ago"
        }
        return ConsulAnswer(body: response.body, index: newIndex, distrust: distrust, httpVersion: response.httpVersion)
    }

    static func redact(_ text: String, _ secret: String) -> String {
        secret.count >= 4 ? text.replacingAll(secret, with: "<redacted>") : text
    }

    static func percentEncode(_ s: String) -> String { PercentEncoding.encode(s) }
}
