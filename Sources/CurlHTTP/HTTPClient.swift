import Basics
import CCurl
import Foundation
import Logging
import Synchronization

/// An async HTTP client over libcurl's multi interface, driven by one dedicated thread per client.
///
/// Requests are handed to the client's thread through a locked queue; the thread runs every transfer with
/// `curl_multi_poll` and resumes the caller's continuation when it completes, so no Swift concurrency thread ever
/// blocks on I/O. Cancelling the calling task aborts its transfer with `HTTPClientError.cancelled`. Every HTTP
/// status is a response: callers check `status` (or use `HTTPResponse.requireSuccess`).
public final class HTTPClient: Sendable {
    private let engine: CurlEngine

    /// Starts the client's I/O thread. `logger` receives debug-level transfer failures.
    public init(logger: Logger? = nil) {
        _ = curlGlobalInit
        engine = CurlEngine(logger: logger)
        engine.start()
    }

    deinit { engine.shutdown() }

    /// Performs `request` and returns the response, whatever its HTTP status.
    public func execute(_ request: HTTPRequest) async throws(HTTPClientError) -> HTTPResponse {
        let engine = self.engine
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
    public func shutdown() { engine.shutdown() }
}

private let curlGlobalInit: Void = { _ = db_curl_global_init() }()
