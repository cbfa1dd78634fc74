import Basics
import CCurl
import FoundationEssentials
import Logging
import Synchronization

/// The libcurl multi handle and the one thread that drives every transfer on it.
final class CurlEngine: @unchecked Sendable {
    private enum Phase { case allocated, cancelledEarly, submitted }

    private struct State {
        var nextID: UInt64 = 1
        var phases: [UInt64: Phase] = [:]
        var pending: [Transfer] = []
        var cancelRequests: [UInt64] = []
        var maxHostConnections: Int?
        var shutdown = false
    }

    private let state = Mutex(State())
    /// The multi handle: `curl_multi_wakeup` may be called from any thread, everything else only on the engine thread.
    private let multi: UnsafeMutableRawPointer
    private let logger: Logger?
    private let options: HTTPClientOptions
    /// Written only by libcurl's socket callbacks on the engine thread; read atomically from anywhere.
    private let sockets: UnsafeMutablePointer<db_curl_sockets>

    init(logger: Logger?, options: HTTPClientOptions) {
        self.logger = logger
        self.options = options
        guard let m = db_curl_multi_init(), let counts = db_curl_sockets_new() else {
            // Only fails when out of memory.
            preconditionFailure("curl_multi_init failed")
        }
        multi = m
        sockets = counts
        _ = db_curl_multi_setopt_long(multi, CURLMOPT_PIPELINING, options.multiplex ? CURLPIPE_MULTIPLEX : 0)
        if options.maxHostConnections > 0 {
            _ = db_curl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, options.maxHostConnections)
            // The idle cache must hold every allowed connection, or reuse turns into close-and-reconnect churn.
            _ = db_curl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, max(options.maxHostConnections, 16))
        }
        _ = db_curl_multi_setopt_long(multi, CURLMOPT_MAX_CONCURRENT_STREAMS, max(1, options.maxConcurrentStreams))
    }

    deinit {
        db_curl_multi_cleanup(multi)
        db_curl_sockets_free(sockets)
    }

    var connectionCounts: HTTPConnectionCounts {
        HTTPConnectionCounts(open: db_curl_sockets_open(sockets), peak: db_curl_sockets_peak(sockets), opened: db_curl_sockets_opened(sockets))
    }

    func resetPeak() { db_curl_sockets_reset_peak(sockets) }

    func start() {
        // Without a thread no request could ever finish: failing loudly at start beats hanging every caller.
        guard DetachedThread.start(name: "curl-http", { [self] in self.loop() }) else {
            preconditionFailure("cannot create the libcurl thread (the system is out of threads)")
        }
    }

    func allocate() -> UInt64 {
        state.withLock { s in
            let id = s.nextID
            s.nextID += 1
            s.phases[id] = .allocated
            return id
        }
    }

    func submit(_ transfer: Transfer) {
        let accepted: Bool = state.withLock { s in
            if s.shutdown || s.phases[transfer.id] == .cancelledEarly {
                s.phases[transfer.id] = nil
                return false
            }
            s.phases[transfer.id] = .submitted
            s.pending.append(transfer)
            return true
        }
        if accepted {
            db_curl_multi_wakeup(multi)
        } else {
            transfer.resume(.failure(.cancelled))
        }
    }

    func cancel(_ id: UInt64) {
        let wake: Bool = state.withLock { s in
            switch s.phases[id] {
            case .allocated:
                s.phases[id] = .cancelledEarly
                return false
            case .submitted:
                s.cancelRequests.append(id)
                return true
            case .cancelledEarly, nil:
                return false
            }
        }
        if wake { db_curl_multi_wakeup(multi) }
    }

    func shutdown() {
        state.withLock { $0.shutdown = true }
        db_curl_multi_wakeup(multi)
    }

    func setMaxHostConnections(_ n: Int) {
        state.withLock { $0.maxHostConnections = n }
        db_curl_multi_wakeup(multi)
    }

    private func loop() {
        var active: [UnsafeMutableRawPointer: Transfer] = [:]
        var byID: [UInt64: Transfer] = [:]

        func finish(_ t: Transfer, _ result: Result<HTTPResponse, HTTPClientError>) {
            if let easy = t.easy, active.removeValue(forKey: easy) != nil {
                db_curl_multi_remove_handle(multi, easy)
            }
            byID[t.id] = nil
            t.releaseHandles()
            _ = state.withLock { $0.phases.removeValue(forKey: t.id) }
            t.resume(result)
        }

        while true {
            let (incoming, cancels, stop, maxHost) = state.withLock { s in
                let batch = (s.pending, s.cancelRequests, s.shutdown, s.maxHostConnections)
                s.pending = []
                s.cancelRequests = []
                s.maxHostConnections = nil
                return batch
            }
            if let maxHost { _ = db_curl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, max(0, maxHost)) }
            for t in incoming {
                if let error = configure(t) {
                    finish(t, .failure(error))
                    continue
                }
                guard let easy = t.easy else { continue }
                let rc = db_curl_multi_add_handle(multi, easy)
                if rc != CURLM_OK {
                    t.releaseHandles()
                    finish(t, .failure(.transport(String(cString: db_curl_multi_strerror(rc)))))
                    continue
                }
                active[easy] = t
                byID[t.id] = t
            }
            for id in cancels {
                if let t = byID[id] { finish(t, .failure(.cancelled)) }
            }
            if stop {
                for t in Array(byID.values) { finish(t, .failure(.cancelled)) }
                return
            }

            var running: Int32 = 0
            _ = db_curl_multi_perform(multi, &running)
            var left: Int32 = 0
            while let msg = db_curl_multi_info_read(multi, &left) {
                guard msg.pointee.msg == CURLMSG_DONE, let easy = msg.pointee.easy_handle, let t = active[easy] else { continue }
                let rc = db_curl_msg_result(msg)
                finish(t, outcome(of: t, code: rc))
            }
            var numfds: Int32 = 0
            _ = db_curl_multi_poll(multi, nil, 0, 1000, &numfds)
        }
    }

    private func outcome(of t: Transfer, code: CURLcode) -> Result<HTTPResponse, HTTPClientError> {
        if code == CURLE_OK {
            var status = 0
            var version = 0
            if let easy = t.easy {
                _ = db_curl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
                _ = db_curl_getinfo_long(easy, CURLINFO_HTTP_VERSION, &version)
            }
            var response = HTTPResponse(status: status, headers: t.headers, body: t.body)
            response.httpVersion = version == Int(CURL_HTTP_VERSION_2_0) ? 2 : version == Int(CURL_HTTP_VERSION_3) ? 3 : 1
            return .success(response)
        }
        if t.overflow { return .failure(.tooLarge(t.request.maxBodyBytes)) }
        let detail = String(cString: t.errorBuffer)
        let message = detail.isEmpty ? String(cString: db_curl_easy_strerror(code)) : detail
        let error = Self.classify(code, message)
        logger?.debug("HTTP transfer failed", metadata: ["method": "\(t.request.method)", "error": "\(error)"])
        return .failure(error)
    }

    static func classify(_ code: CURLcode, _ message: String) -> HTTPClientError {
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return .dns(message)
        case CURLE_COULDNT_CONNECT:
            return .connect(message)
        case CURLE_OPERATION_TIMEDOUT:
            return .timeout(message)
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
             CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_ENGINE_INITFAILED,
             CURLE_SSL_SHUTDOWN_FAILED, CURLE_SSL_CRL_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH,
             CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CLIENTCERT, CURLE_USE_SSL_FAILED:
            return .tls(message)
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL:
            return .invalidRequest(message)
        default:
            return .transport(message)
        }
    }

    /// Creates and configures the easy handle; returns an error for requests that cannot be sent.
    private func configure(_ t: Transfer) -> HTTPClientError? {
        let r = t.request
        let lowerURL = r.url.lowercased()
        let isHTTPS = lowerURL.hasPrefix("https://")
        guard isHTTPS || lowerURL.hasPrefix("http://") else {
            return .invalidRequest("only http:// and https:// URLs are supported")
        }
        guard !r.method.isEmpty, r.method.allSatisfy({ $0.isASCII && $0.isLetter }) else {
            return .invalidRequest("bad method \"\(r.method)\"")
        }
        for h in r.headers {
            let bad: (Character) -> Bool = { $0 == "\r" || $0 == "\n" }
            if h.name.isEmpty || h.name.contains(where: { bad($0) || $0 == ":" }) || h.value.contains(where: bad) {
                return .invalidRequest("bad header \"\(h.name)\"")
            }
        }
        guard let easy = db_curl_easy_init() else { return .transport("curl_easy_init failed") }
        t.easy = easy

        var failed: CURLcode = CURLE_OK
        func check(_ rc: CURLcode) { if rc != CURLE_OK && failed == CURLE_OK { failed = rc } }

        var url = r.url
        if isHTTPS, let serverName = r.tls.serverName, !serverName.isEmpty {
            guard let rewritten = Self.pinnedURL(url, serverName: serverName, transfer: t) else {
                return .invalidRequest("cannot apply TLS server name to the URL")
            }
            url = rewritten
        }
        check(db_curl_setopt_str(easy, CURLOPT_URL, url))
        check(db_curl_setopt_ptr(easy, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(t.errorBuffer)))
        check(db_curl_setopt_long(easy, CURLOPT_NOSIGNAL, 1))
        check(db_curl_setopt_long(easy, CURLOPT_TIMEOUT_MS, max(1, Self.ms(r.timeout))))
        check(db_curl_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, max(1, Self.ms(r.connectTimeout))))
        check(db_curl_setopt_str(easy, CURLOPT_PROTOCOLS_STR, "http,https"))
        check(db_curl_setopt_str(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"))
        check(db_curl_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1))
        check(db_curl_count_sockets(easy, sockets))
        if options.multiplex {
            // h2 where TLS negotiates it (ALPN), HTTP/1.1 otherwise; PIPEWAIT makes a transfer wait for a connection
            // it can multiplex on instead of opening its own while the first handshake is under way.
            check(db_curl_setopt_long(easy, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS)))
            check(db_curl_setopt_long(easy, CURLOPT_PIPEWAIT, 1))
        }
        if r.acceptGzip { check(db_curl_setopt_str(easy, CURLOPT_ACCEPT_ENCODING, "")) }
        if connectToList(t) != nil { check(db_curl_setopt_slist(easy, CURLOPT_CONNECT_TO, t.connectTo)) }

        // TLS
        check(db_curl_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, r.tls.insecureSkipVerify ? 0 : 1))
        check(db_curl_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, r.tls.insecureSkipVerify ? 0 : 2))
        if let v = r.tls.caFile { check(db_curl_setopt_str(easy, CURLOPT_CAINFO, v)) }
        if let v = r.tls.caPath { check(db_curl_setopt_str(easy, CURLOPT_CAPATH, v)) }
        if let v = r.tls.certFile { check(db_curl_setopt_str(easy, CURLOPT_SSLCERT, v)) }
        if let v = r.tls.keyFile { check(db_curl_setopt_str(easy, CURLOPT_SSLKEY, v)) }

        // Method and body.
        let method = r.method.uppercased()
        if let body = r.body {
            check(db_curl_setopt_off(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)))
            body.withUnsafeBufferPointer { buf in
                // COPYPOSTFIELDS copies the bytes; an empty body still needs a valid pointer.
                let empty: [CChar] = [0]
                if let base = buf.baseAddress, !buf.isEmpty {
                    check(db_curl_setopt_ptr(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: base)))
                } else {
                    empty.withUnsafeBufferPointer { e in
                        check(db_curl_setopt_ptr(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: e.baseAddress)))
                    }
                }
            }
            if method != "POST" { check(db_curl_setopt_str(easy, CURLOPT_CUSTOMREQUEST, method)) }
        } else {
            switch method {
            case "GET": check(db_curl_setopt_long(easy, CURLOPT_HTTPGET, 1))
            case "HEAD": check(db_curl_setopt_long(easy, CURLOPT_NOBODY, 1))
            case "POST":
                check(db_curl_setopt_off(easy, CURLOPT_POSTFIELDSIZE_LARGE, 0))
                check(db_curl_setopt_str(easy, CURLOPT_COPYPOSTFIELDS, ""))
            default: check(db_curl_setopt_str(easy, CURLOPT_CUSTOMREQUEST, method))
            }
        }

        // Headers; "Expect:" turns off 100-continue round trips for bodies. Not on SigV4 requests: libcurl 7.88 lists
        // a suppressed `expect` among the signed headers without sending it, which AWS would reject as a bad signature
        // (our signed bodies are small, so curl would not send Expect anyway).
        var list: UnsafeMutablePointer<curl_slist>? = nil
        var lines = r.headers.map { $0.value.isEmpty ? "\($0.name);" : "\($0.name): \($0.value)" }
        if let aws = r.awsSigV4, let token = aws.sessionToken { lines.append("X-Amz-Security-Token: \(token)") }
        if r.awsSigV4 == nil { lines.append("Expect:") }
        for line in lines {
            guard let next = db_curl_slist_append(list, line) else { return .transport("out of memory") }
            list = next
        }
        t.headerList = list
        check(db_curl_setopt_slist(easy, CURLOPT_HTTPHEADER, list))

        if let aws = r.awsSigV4 {
            check(db_curl_setopt_str(easy, CURLOPT_AWS_SIGV4, "aws:amz:\(aws.region):\(aws.service)"))
            // USERNAME + PASSWORD is CURLOPT_USERPWD "key:secret" without the colon ambiguity.
            check(db_curl_setopt_str(easy, CURLOPT_USERNAME, aws.accessKeyID))
            check(db_curl_setopt_str(easy, CURLOPT_PASSWORD, aws.secretAccessKey))
        }

        let me = Unmanaged.passUnretained(t).toOpaque()
        check(db_curl_set_write_cb(easy, { ptr, size, count, userdata in
            guard let userdata else { return 0 }
            let t = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
            let n = size * count
            guard n > 0, let ptr else { return n }
            if t.body.count + n > t.request.maxBodyBytes {
                t.overflow = true
                return 0
            }
            ptr.withMemoryRebound(to: UInt8.self, capacity: n) { p in
                t.body.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
            }
            return n
        }, me))
        check(db_curl_set_header_cb(easy, { ptr, size, count, userdata in
            guard let userdata else { return 0 }
            let t = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
            let n = size * count
            guard n > 0, let ptr else { return n }
            let line = ptr.withMemoryRebound(to: UInt8.self, capacity: n) { p in
                String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
            }
            t.receiveHeaderLine(line)
            return n
        }, me))

        if failed != CURLE_OK {
            return .invalidRequest("libcurl refused an option: \(String(cString: db_curl_easy_strerror(failed)))")
        }
        return nil
    }

    private func connectToList(_ t: Transfer) -> UnsafeMutablePointer<curl_slist>? { t.connectTo }

    /// Rewrites the URL's host to `serverName` and records a CONNECT_TO entry to the original host and port.
    private static func pinnedURL(_ url: String, serverName: String, transfer t: Transfer) -> String? {
        guard let u = db_curl_url() else { return nil }
        defer { db_curl_url_cleanup(u) }
        guard db_curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK else { return nil }
        var hostPtr: UnsafeMutablePointer<CChar>? = nil
        var portPtr: UnsafeMutablePointer<CChar>? = nil
        guard db_curl_url_get(u, CURLUPART_HOST, &hostPtr, 0) == CURLUE_OK, let hostPtr else { return nil }
        let host = String(cString: hostPtr)
        db_curl_free(hostPtr)
        guard db_curl_url_get(u, CURLUPART_PORT, &portPtr, UInt32(CURLU_DEFAULT_PORT)) == CURLUE_OK, let portPtr else { return nil }
        let port = String(cString: portPtr)
        db_curl_free(portPtr)
        guard db_curl_url_set(u, CURLUPART_HOST, serverName, 0) == CURLUE_OK else { return nil }
        var outPtr: UnsafeMutablePointer<CChar>? = nil
        guard db_curl_url_get(u, CURLUPART_URL, &outPtr, 0) == CURLUE_OK, let outPtr else { return nil }
        let out = String(cString: outPtr)
        db_curl_free(outPtr)
        t.connectTo = db_curl_slist_append(nil, "\(serverName):\(port):\(host):\(port)")
        return t.connectTo == nil ? nil : out
    }

    static func ms(_ d: Duration) -> Int {
        Int(clamping: d.milliseconds)
    }
}
