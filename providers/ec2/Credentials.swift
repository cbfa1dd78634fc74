import Basics
import FoundationEssentials

/// AWS credentials; `description` shows where they came from and never the secret or the session token.
public struct AWSCredentials: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?
    /// Seconds since 1970 after which the credentials are invalid; nil for long-lived keys.
    public var expiration: Double?
    /// Where they came from: `config`, `environment`, `profile:<name>`, `imds:<role>`, `sts-assume-role`.
    public var source: String

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Double? = nil, source: String) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
        self.source = source
    }

    /// The access key id with all but the last four characters hidden.
    public var maskedAccessKeyID: String {
        accessKeyID.count <= 4 ? "****" : "****" + accessKeyID.suffix(4)
    }

    public var description: String {
        "AWSCredentials(source: \(source), accessKeyID: \(maskedAccessKeyID), secretAccessKey: <redacted>"
            + (sessionToken == nil ? "" : ", sessionToken: <redacted>") + ")"
    }

    public var debugDescription: String { description }

    /// True when the credentials expire within `margin` seconds of `now`.
    func expires(within margin: Double, now: Double) -> Bool {
        guard let expiration else { return false }
        return expiration - margin <= now
    }
}

/// A parsed INI file as the AWS shared credentials and config files use it: sections of `key = value`.
public struct INIFile: Sendable, Equatable {
    /// Section name (as written between brackets, trimmed) → lower-cased key → value.
    public var sections: [String: [String: String]]

    /// Parses INI text; comments start with `#` or `;`, keys before any section are ignored, continuation lines are skipped.
    public static func parse(_ text: String) -> INIFile {
        var sections: [String: [String: String]] = [:]
        var current: String?
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let line = String(rawLine).trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                guard let close = line.firstIndex(of: "]") else { current = nil; continue }
                let name = String(line[line.index(after: line.startIndex)..<close]).trimmingWhitespace()
                current = name
                if sections[name] == nil { sections[name] = [:] }
                continue
            }
            // Indented lines continue a nested value (e.g. `s3 =` blocks); they never hold credentials.
            if let first = rawLine.first, first == " " || first == "\t" { continue }
            guard let section = current, let eq = line.firstIndex(of: "=") else { continue }
            let key = String(line[..<eq]).trimmingWhitespace().lowercased()
            var value = String(line[line.index(after: eq)...]).trimmingWhitespace()
            // Inline comments need whitespace before the marker.
            for marker in [" #", " ;", "\t#", "\t;"] {
                if let r = value.firstRange(of: marker) { value = String(value[..<r.lowerBound]).trimmingWhitespace() }
            }
            sections[section, default: [:]][key] = value
        }
        return INIFile(sections: sections)
    }
}

/// Reads credentials for a profile from the AWS shared files, honouring the SDK environment variables.
struct SharedCredentialFiles {
    var environment: [String: String]

    var home: String? { environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } }

    func expand(_ path: String) -> String {
        if path == "~" { return home ?? path }
        if path.hasPrefix("~/"), let home { return home + String(path.dropFirst(1)) }
        return path
    }

    var credentialsPath: String? {
        if let p = environment["AWS_SHARED_CREDENTIALS_FILE"], !p.isEmpty { return expand(p) }
        return home.map { $0 + "/.aws/credentials" }
    }

    var configPath: String? {
        if let p = environment["AWS_CONFIG_FILE"], !p.isEmpty { return expand(p) }
        return home.map { $0 + "/.aws/config" }
    }

    static func read(_ path: String?) -> INIFile? {
        guard let path, case .success(let bytes) = FileBytes.read(path) else { return nil }
        return INIFile.parse(String(decoding: bytes, as: UTF8.self))
    }

    /// Static keys of `profile` from the credentials file (`[name]`), then the config file (`[profile name]`, `[default]`).
    func credentials(profile: String) -> AWSCredentials? {
        var candidates: [[String: String]] = []
        if let creds = Self.read(credentialsPath), let s = creds.sections[profile] { candidates.append(s) }
        if let config = Self.read(configPath) {
            if let s = config.sections["profile \(profile)"] { candidates.append(s) }
            if profile == "default", let s = config.sections["default"] { candidates.append(s) }
        }
        for s in candidates {
            if let key = s["aws_access_key_id"], !key.isEmpty, let secret = s["aws_secret_access_key"], !secret.isEmpty {
                let token = s["aws_session_token"].flatMap { $0.isEmpty ? nil : $0 }
                return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: token, source: "profile:\(profile)")
            }
        }
        return nil
    }

    /// The `region` of `profile` in the config file, if any.
    func region(profile: String) -> String? {
        guard let config = Self.read(configPath) else { return nil }
        let section = profile == "default" ? (config.sections["default"] ?? config.sections["profile default"]) : config.sections["profile \(profile)"]
        return section?["region"].flatMap { $0.isEmpty ? nil : $0 }
    }
}
