import CurlHTTP

/// Carries provider requests over the shared libcurl client, signing with libcurl's CURLOPT_AWS_SIGV4.
public struct CurlTransport: AWSTransport {
    public let client: HTTPClient

    public init(client: HTTPClient) {
        self.client = client
    }

    public func send(_ request: AWSRequest) async throws(EC2Error) -> AWSResponse {
        var r = HTTPRequest(method: request.method, url: request.url,
                            headers: request.headers.map { HTTPHeader($0.name, $0.value) },
                            body: request.body, timeout: request.timeout)
        r.connectTimeout = request.connectTimeout
        r.maxBodyBytes = 256 << 20
        if let s = request.signing {
            r.awsSigV4 = AWSSigV4(region: s.region, service: s.service, accessKeyID: s.credentials.accessKeyID,
                                  secretAccessKey: s.credentials.secretAccessKey, sessionToken: s.credentials.sessionToken)
        }
        let response: HTTPResponse
        do {
            response = try await client.execute(r)
        } catch {
            throw EC2Error.transport("\(error)")
        }
        var headers: [String: String] = [:]
        for h in response.headers { headers[h.name.lowercased()] = h.value }
        return AWSResponse(status: response.status, headers: headers, body: response.body)
    }
}
