import CurlHTTP
import Foundation
import TestSupport
import XCTest

final class HTTPClientTests: XCTestCase {
    var server: FakeServer!
    var client: HTTPClient!
    var base: String { "http://127.0.0.1:\(server.port)" }

    override func setUpWithError() throws {
        server = try FakeServer(script: "http_fixture.py", arguments: ["--max-seconds", "120"])
        client = HTTPClient()
    }

    override func tearDown() {
        client?.shutdown()
        server?.stop()
    }

    func echo(_ response: HTTPResponse) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    func test_get_returns_status_headers_and_body() async throws {
        let r = try await client.execute(HTTPRequest(url: "\(base)/echo?x=1", headers: [HTTPHeader("X-Test", "abc")]))
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.header("X-FIXTURE"), "yes")
        XCTAssertEqual(r.header("x-multi"), "b", "last repeated header wins")
        XCTAssertEqual(r.headers.filter { $0.name == "x-multi" }.map(\.value), ["a", "b"])
        XCTAssertTrue(r.headers.allSatisfy { $0.name == $0.name.lowercased() })
        let doc = try echo(r)
        XCTAssertEqual(doc["method"] as? String, "GET")
        XCTAssertEqual(doc["path"] as? String, "/echo?x=1")
        XCTAssertEqual((doc["headers"] as? [String: String])?["x-test"], "abc")
    }

    func test_post_sends_body() async throws {
        let r = try await client.execute(HTTPRequest(method: "POST", url: "\(base)/echo", body: Array("hello body".utf8)))
        let doc = try echo(r)
        XCTAssertEqual(doc["method"] as? String, "POST")
        XCTAssertEqual(doc["body"] as? String, "hello body")
        let put = try await client.execute(HTTPRequest(method: "PUT", url: "\(base)/echo", body: Array("{}".utf8)))
        XCTAssertEqual(try echo(put)["method"] as? String, "PUT")
        XCTAssertEqual(try echo(put)["body"] as? String, "{}")
        let emptyPost = try await client.execute(HTTPRequest(method: "POST", url: "\(base)/echo"))
        XCTAssertEqual(try echo(emptyPost)["body"] as? String, "")
    }

    func test_gzip_body_is_decoded() async throws {
        let r = try await client.execute(HTTPRequest(url: "\(base)/gzip"))
        XCTAssertEqual(r.header("content-encoding"), "gzip")
        XCTAssertEqual(r.bodyText, String(repeating: "hello gzip ", count: 200))
    }

    func test_non_2xx_status_is_a_response_and_requireSuccess_carries_the_body() async throws {
        let r = try await client.execute(HTTPRequest(url: "\(base)/status/503"))
        XCTAssertEqual(r.status, 503)
        XCTAssertThrowsError(try r.requireSuccess(context: "GET /status")) { error in
            let e = error as? HTTPStatusError
            XCTAssertEqual(e?.status, 503)
            XCTAssertEqual(e?.bodyPrefix, "status 503 body")
            XCTAssertEqual(e?.description, "GET /status: HTTP 503: status 503 body")
        }
    }

    func test_total_timeout_against_a_hanging_server() async throws {
        let start = ContinuousClock.now
        do {
            _ = try await client.execute(HTTPRequest(url: "\(base)/hang", timeout: .milliseconds(700)))
            XCTFail("expected a timeout")
        } catch {
            guard case .timeout = error else { return XCTFail("expected .timeout, got \(error)") }
        }
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(3))
    }

    func test_connection_refused_is_a_connect_error() async throws {
        do {
            _ = try await client.execute(HTTPRequest(url: "http://127.0.0.1:1/", timeout: .seconds(5)))
            XCTFail("expected an error")
        } catch {
            guard case .connect = error else { return XCTFail("expected .connect, got \(error)") }
        }
    }

    func test_unsupported_scheme_is_an_invalid_request() async throws {
        do {
            _ = try await client.execute(HTTPRequest(url: "file:///etc/passwd"))
            XCTFail("expected an error")
        } catch {
            guard case .invalidRequest = error else { return XCTFail("expected .invalidRequest, got \(error)") }
        }
    }

    func test_body_over_the_limit_fails_too_large() async throws {
        var req = HTTPRequest(url: "\(base)/big?n=100000")
        req.maxBodyBytes = 1000
        do {
            _ = try await client.execute(req)
            XCTFail("expected an error")
        } catch {
            XCTAssertEqual(error, .tooLarge(1000))
        }
    }

    func test_cancelling_the_task_aborts_the_transfer() async throws {
        let client = self.client!
        let url = "\(base)/hang"
        let task = Task { () -> HTTPClientError? in
            do throws(HTTPClientError) {
                _ = try await client.execute(HTTPRequest(url: url, timeout: .seconds(30)))
                return nil
            } catch {
                return error
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        let start = ContinuousClock.now
        task.cancel()
        let error = await task.value
        XCTAssertEqual(error, .cancelled)
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(2))
        // The client still works afterwards.
        let r = try await client.execute(HTTPRequest(url: "\(base)/status/204"))
        XCTAssertEqual(r.status, 204)
    }

    func test_already_cancelled_task_fails_without_sending() async throws {
        let client = self.client!
        let url = "\(base)/hang"
        let task = Task { () -> HTTPClientError? in
            withUnsafeCurrentTask { $0?.cancel() }
            do throws(HTTPClientError) {
                _ = try await client.execute(HTTPRequest(url: url))
                return nil
            } catch {
                return error
            }
        }
        let error = await task.value
        XCTAssertEqual(error, .cancelled)
    }

    func test_200_parallel_requests_over_one_client() async throws {
        let client = self.client!
        let base = self.base
        let start = ContinuousClock.now
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<200 {
                group.addTask {
                    let r = try await client.execute(HTTPRequest(url: "\(base)/echo?i=\(i)", timeout: .seconds(30)))
                    return r.status
                }
            }
            var out: [Int] = []
            for try await s in group { out.append(s) }
            return out
        }
        XCTAssertEqual(statuses.count, 200)
        XCTAssertTrue(statuses.allSatisfy { $0 == 200 })
        print("200 parallel requests took \(ContinuousClock.now - start)")
    }

    func test_max_host_connections_bounds_the_sockets_and_they_are_counted() async throws {
        let bounded = HTTPClient(options: HTTPClientOptions(maxHostConnections: 3))
        defer { bounded.shutdown() }
        let base = self.base
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<60 {
                group.addTask { try await bounded.execute(HTTPRequest(url: "\(base)/echo?i=\(i)", timeout: .seconds(30))).status }
            }
            var out: [Int] = []
            for try await s in group { out.append(s) }
            return out
        }
        XCTAssertTrue(statuses.allSatisfy { $0 == 200 })
        let c = bounded.connections
        XCTAssertLessThanOrEqual(c.peak, 3, "never more sockets to the host than allowed")
        XCTAssertGreaterThanOrEqual(c.peak, 1)
        XCTAssertLessThanOrEqual(c.opened, 3, "idle connections are reused, not reopened")
        XCTAssertLessThanOrEqual(c.open, 3)
    }

    func test_shutdown_client_fails_new_requests() async throws {
        let c = HTTPClient()
        c.shutdown()
        do {
            _ = try await c.execute(HTTPRequest(url: "\(base)/echo"))
            XCTFail("expected an error")
        } catch {
            XCTAssertEqual(error, .cancelled)
        }
    }
}

final class HTTPSClientTests: XCTestCase {
    var server: FakeServer!
    var client: HTTPClient!
    var dir: URL!
    var certPath: String { dir.appendingPathComponent("cert.pem").path }

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("curlhttp-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        openssl.arguments = [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", dir.appendingPathComponent("key.pem").path, "-out", certPath,
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,DNS:consul.test,IP:127.0.0.1",
        ]
        openssl.standardOutput = FileHandle.nullDevice
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        XCTAssertEqual(openssl.terminationStatus, 0, "openssl req failed")
        server = try FakeServer(script: "http_fixture.py", arguments: [
            "--tls-cert", certPath, "--tls-key", dir.appendingPathComponent("key.pem").path, "--max-seconds", "120",
        ])
        client = HTTPClient()
    }

    override func tearDown() {
        client?.shutdown()
        server?.stop()
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    func test_self_signed_certificate_fails_verification_by_default() async throws {
        do {
            _ = try await client.execute(HTTPRequest(url: "https://127.0.0.1:\(server.port)/echo", timeout: .seconds(10)))
            XCTFail("expected a TLS error")
        } catch {
            guard case .tls = error else { return XCTFail("expected .tls, got \(error)") }
        }
    }

    func test_ca_file_makes_verification_pass() async throws {
        var req = HTTPRequest(url: "https://127.0.0.1:\(server.port)/echo", timeout: .seconds(10))
        req.tls.caFile = certPath
        let r = try await client.execute(req)
        XCTAssertEqual(r.status, 200)
    }

    func test_insecure_skip_verify_passes() async throws {
        var req = HTTPRequest(url: "https://127.0.0.1:\(server.port)/echo", timeout: .seconds(10))
        req.tls.insecureSkipVerify = true
        let r = try await client.execute(req)
        XCTAssertEqual(r.status, 200)
    }

    func test_server_name_is_verified_instead_of_the_url_host() async throws {
        var req = HTTPRequest(url: "https://127.0.0.1:\(server.port)/echo", timeout: .seconds(10))
        req.tls.caFile = certPath
        req.tls.serverName = "consul.test"
        let r = try await client.execute(req)
        XCTAssertEqual(r.status, 200)
        req.tls.serverName = "wrong.test"
        do {
            _ = try await client.execute(req)
            XCTFail("expected a TLS error for a name not in the certificate")
        } catch {
            guard case .tls = error else { return XCTFail("expected .tls, got \(error)") }
        }
    }
}
