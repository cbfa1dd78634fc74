import Basics
import CCurl
import FoundationEssentials
import Logging
import Synchronization

/// An async HTTP client over libcurl's multi interface, driven by one dedicated thread per client.
///
/// Requests are handed to the client's thread through a locked queue; the thread runs every transfer with
/// `curl_multi_poll` and resumes the caller's continuation when it completes, so no Swift concurrency thread ever
/// blocks on I/O. Cancelling the calling task aborts its transfer with `HTTPClientError.cancelled`. Every HTTP
/// status is a response: callers check `status` (or use `HTTPResponse.requireSuccess`).
public final class HTTPClient: Sendable {
    /// Nil when libcurl could not be loaded: every request then fails, naming why.
    private let engine: CurlEngine?

    /// Starts the client's I/O thread. `logger` receives debug-level transfer failures; `options` bound and share
    /// the client's connections.
    public init(logger: Logger? = nil, options: HTTPClientOptions = HTTPClientOptions()) {
        if let problem = curlLoad {
            logger?.error("libcurl cannot be loaded; HTTP requests fail until it is installed (Debian: libcurl4)", metadata: ["error": "\(problem)"])
            engine = nil
            return
        }
        let engine = CurlEngine(logger: logger, options: options)
        engine.start()
        self.engine = engine
    }

    /// The TCP connections this client has on the wire, counted where libcurl opens and closes its sockets.
    public var connections: HTTPConnectionCounts { engine?.connectionCounts ?? HTTPConnectionCounts(open: 0, peak: 0, opened: 0) }

    /// Starts a new peak measurement from the connections open now.
    public func resetPeakConnections() { engine?.resetPeak() }

    /// Changes the most connections per host (`CURLMOPT_MAX_HOST_CONNECTIONS`) from now on.
    ///
    /// Over HTTP/2, libcurl 7.88 opens a new connection for every transfer that finds its connections' streams
    /// all taken, even while another new connection is still being set up; bounding the host connections to what
    /// the streams need makes such transfers wait inside libcurl and then multiplex instead.
    public func setMaxHostConnections(_ n: Int) { engine?.setMaxHostConnections(n) }

    deinit { engine?.shutdown() }

    /// Performs `request` and returns the response, whatever its HTTP status.
    public func execute(_ request: HTTPRequest) async throws(HTTPClientError) -> HTTPResponse {
        guard let engine = self.engine else { throw .transport("libcurl cannot be loaded (install libcurl4): \(curlLoad ?? "")") }
        let id = engine.allocate()
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<HTTPResponse, HTTPClientError>, Never>) in
                engine.submit(Transfer(id: id, request: request, continuation: continuation))
            }
        } onCancel: {
            engine.cancel(id)
        }
        return try result.get()
    }

    /// Stops the I/O thread; transfers in flight and later calls fail with `.cancelled`.
    public func shutdown() { engine?.shutdown() }
}

/// dlopen of libcurl and `curl_global_init`, once per process; the problem, or nil when ready.
private let curlLoad: String? = db_curl_global_init().map { String(cString: $0) }
