import FoundationEssentials

extension PersistencePolicy {
    /// Parses `backends[i].persistence`; reads the cookie key file (relative paths resolve against the config's folder).
    static func parse(_ value: JSONValue, at path: String, configDirectory: String) throws(ConfigError) -> PersistencePolicy {
        var p = try ObjectReader(value, at: path)
        guard let modeText = try p.oneOf("mode", Mode.allCases.map(\.rawValue)), let mode = Mode(rawValue: modeText) else {
            throw ConfigError(path: p.pathOf("mode"), "is required (one of \"none\", \"source\", \"cookie\")")
        }
        var policy = PersistencePolicy(mode: mode)
        let sourceKeys = ["table_size", "expire", "peers"], cookieKeys = ["cookie_name", "cookie_key_file"]
        let foreign = mode == .source ? cookieKeys : mode == .cookie ? sourceKeys : sourceKeys + cookieKeys
        if let key = foreign.first(where: { p.has($0) }) {
            let owner = sourceKeys.contains(key) ? "source" : "cookie"
            throw ConfigError(path: p.pathOf(key), "applies to mode \"\(owner)\" only (mode is \"\(mode.rawValue)\")")
        }
        switch mode {
        case .none:
            break
        case .source:
            if let size = try p.string("table_size") {
                guard isTableSize(size) else {
                    throw ConfigError(path: p.pathOf("table_size"), "expected a stick-table size such as \"100k\" or \"1m\", got \"\(size)\"")
                }
                policy.tableSize = size
            }
            if let expire = try p.duration("expire") {
                guard expire >= .seconds(1), expire <= .seconds(24 * 24 * 3600) else {
                    throw ConfigError(path: p.pathOf("expire"), "must be between 1s and 24 days (HAProxy's limit)")
                }
                policy.expire = expire
            }
            if let peers = try p.string("peers") {
                guard ConfigLoader.isHAProxyIdentifier(peers) else {
                    throw ConfigError(path: p.pathOf("peers"), "expected the name of a peers section, got \"\(peers)\"")
                }
                policy.peers = peers
            }
        case .cookie:
            if let name = try p.string("cookie_name") {
                guard isCookieName(name) else {
                    throw ConfigError(path: p.pathOf("cookie_name"), "expected a cookie name (letters, digits, '-', '_'), got \"\(name)\"")
                }
                policy.cookieName = name
            }
            guard let file = try p.nonEmptyString("cookie_key_file") else {
                throw ConfigError(path: p.pathOf("cookie_key_file"), "is required with mode \"cookie\" (a file holding the dynamic-cookie-key)")
            }
            let resolved = ConfigLoader.resolve(file, against: configDirectory)
            policy.cookieKeyFile = resolved
            policy.cookieKey = try readKey(resolved, path: p.pathOf("cookie_key_file"))
        }
        try p.finish()
        return policy
    }

    /// Reads the key: one line (a trailing newline is fine), long enough, and safe to write into haproxy.cfg unquoted.
    static func readKey(_ file: String, path: String) throws(ConfigError) -> Secret {
        var bytes: [UInt8]
        switch FileBytes.read(file) {
        case .success(let read): bytes = read
        case .failure(let failure): throw ConfigError(path: path, "cannot read the cookie key file \(file): \(failure.text)")
        }
        while let last = bytes.last, last == 0x0A || last == 0x0D || last == 0x20 || last == 0x09 { bytes.removeLast() }
        guard !bytes.isEmpty else { throw ConfigError(path: path, "the cookie key file \(file) is empty") }
        // Never echo the key: the message says what is wrong, not what the file holds.
        let forbidden: Set<UInt8> = [0x22, 0x27, 0x5C, 0x23, 0x24]  // " ' \ # $
        guard bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F && !forbidden.contains($0) }) else {
            throw ConfigError(path: path, "the cookie key file \(file) must hold one line of printable ASCII without spaces, quotes, '\\', '#' or '$'")
        }
        guard bytes.count >= minimumKeyLength else {
            throw ConfigError(path: path, "the key in \(file) is \(bytes.count) characters; use at least \(minimumKeyLength) (e.g. `openssl rand -hex 16`)")
        }
        return Secret(String(decoding: bytes, as: UTF8.self))
    }

    static func isTableSize(_ s: String) -> Bool {
        var digits = Substring(s)
        if let last = digits.last, "kmg".contains(last) { digits = digits.dropLast() }
        return !digits.isEmpty && digits.count <= 10 && digits.allSatisfy { $0.isASCII && $0.isNumber } && digits.first != "0"
    }

    static func isCookieName(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 64 && s.unicodeScalars.allSatisfy { $0.isASCIIAlphanumeric || $0 == "-" || $0 == "_" }
    }
}
