/// AWS Signature Version 4 credentials; libcurl signs the request (`CURLOPT_AWS_SIGV4`).
public struct AWSSigV4: Sendable, Hashable {
    public var region: String
    public var service: String
    public var accessKeyID: String
    public var secretAccessKey: String
    /// Temporary credentials' token, sent as `X-Amz-Security-Token` (and therefore signed).
    public var sessionToken: String?

    public init(region: String, service: String, accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.region = region
        self.service = service
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }
}
