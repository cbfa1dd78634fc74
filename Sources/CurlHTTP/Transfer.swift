import Basics
import CCurl

/// One transfer, owned by the engine thread once submitted.
final class Transfer: @unchecked Sendable {
    let id: UInt64
    let request: HTTPRequest
    private var continuation: CheckedContinuation<Result<HTTPResponse, HTTPClientError>, Never>?
    var easy: UnsafeMutableRawPointer?
    var headerList: UnsafeMutablePointer<curl_slist>?
    var connectTo: UnsafeMutablePointer<curl_slist>?
    var headers: [HTTPHeader] = []
    var body: [UInt8] = []
    var overflow = false
    let errorBuffer: UnsafeMutablePointer<CChar>

    init(id: UInt64, request: HTTPRequest, continuation: CheckedContinuation<Result<HTTPResponse, HTTPClientError>, Never>) {
        self.id = id
        self.request = request
        self.continuation = continuation
        let size = Int(db_curl_error_size())
        errorBuffer = .allocate(capacity: size)
        errorBuffer.initialize(repeating: 0, count: size)
    }

    func resume(_ result: Result<HTTPResponse, HTTPClientError>) {
        continuation?.resume(returning: result)
        continuation = nil
    }

    func releaseHandles() {
        if let easy { db_curl_easy_cleanup(easy) }
        easy = nil
        if let headerList { db_curl_slist_free_all(headerList) }
        headerList = nil
        if let connectTo { db_curl_slist_free_all(connectTo) }
        connectTo = nil
    }

    deinit {
        releaseHandles()
        errorBuffer.deallocate()
        // Never leave a caller hanging, whatever path dropped the transfer.
        continuation?.resume(returning: .failure(.cancelled))
    }
}

extension Transfer {
    func receiveHeaderLine(_ raw: String) {
        var line = Substring(raw)
        while let l = line.last, l == "\n" || l == "\r" || l == "\r\n" { line.removeLast() }
        if line.hasPrefix("HTTP/") {
            // A new response (after 100 Continue or an interim answer): keep only the final one's headers.
            headers = []
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = String(line[..<colon]).trimmingWhitespace().lowercased()
        let value = String(line[line.index(after: colon)...]).trimmingWhitespace()
        guard !name.isEmpty else { return }
        headers.append(HTTPHeader(name, value))
    }
}
