import DiscoveryCore

/// Why a candidate managed config file was not installed, with the line at fault when there is one.
public struct ManagedConfigError: Error, Sendable, CustomStringConvertible {
    public var line: Int?
    public var message: String

    public init(line: Int? = nil, _ message: String) {
        self.line = line
        self.message = message
    }

    public var description: String { line.map { "line \($0): \(message)" } ?? message }
}

/// Structural check of a rendered managed file, done on the bytes about to be written (whatever produced them):
/// only `backend` sections with `balance` and `server` lines, every configured backend present with the slots
/// expected, names HAProxy accepts, literal addresses, ports and weights in range, no server twice.
///
/// `haproxy.check_command` is the full check; this one always runs, also where HAProxy is not installed.
public enum ManagedConfigValidator {
    /// Backend keywords the renderer may write besides `balance` and `server` (extend with the renderer).
    public static let sectionKeywords: Set<String> = ["option", "cookie", "stick-table", "stick", "dynamic-cookie-key", "hash-type"]

    /// Throws the first problem found; `expected` is the number of servers each backend must have.
    public static func validate(_ text: String, expected: [String: Int]) throws(ManagedConfigError) {
        var servers: [String: Set<String>] = [:]
        var current: String?
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNo = index + 1
            let words = raw.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard let first = words.first, !first.hasPrefix("#") else { continue }
            if raw.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
                throw ManagedConfigError(line: lineNo, "control character")
            }
            let indented = raw.hasPrefix(" ")
            if !indented {
                guard first == "backend", words.count == 2, isIdentifier(words[1]) else {
                    throw ManagedConfigError(line: lineNo, "expected \"backend NAME\", got \"\(raw.prefix(80))\"")
                }
                guard servers[words[1]] == nil else { throw ManagedConfigError(line: lineNo, "backend \(words[1]) appears twice") }
                guard expected[words[1]] != nil else { throw ManagedConfigError(line: lineNo, "backend \(words[1]) is not one the bridge manages") }
                current = words[1]
                servers[words[1]] = []
                continue
            }
            guard let backend = current else { throw ManagedConfigError(line: lineNo, "a setting outside any backend section") }
            switch first {
            case "balance":
                guard words.count >= 2 else { throw ManagedConfigError(line: lineNo, "balance without an algorithm") }
            case "server":
                try checkServer(words, line: lineNo)
                guard servers[backend, default: []].insert(words[1]).inserted else {
                    throw ManagedConfigError(line: lineNo, "server \(backend)/\(words[1]) appears twice")
                }
            default:
                guard sectionKeywords.contains(first) else {
                    throw ManagedConfigError(line: lineNo, "unexpected keyword \"\(first)\" in backend \(backend)")
                }
            }
        }
        for (backend, count) in expected.sorted(by: { $0.key < $1.key }) {
            guard let found = servers[backend] else { throw ManagedConfigError("backend \(backend) is missing") }
            guard found.count == count else {
                throw ManagedConfigError("backend \(backend) has \(found.count) server lines, expected \(count)")
            }
        }
    }

    static func checkServer(_ words: [String], line: Int) throws(ManagedConfigError) {
        guard words.count >= 3, isIdentifier(words[1]) else {
            throw ManagedConfigError(line: line, "expected \"server NAME ADDRESS:PORT ...\"")
        }
        let endpoint = words[2]
        guard let colon = endpoint.lastIndex(of: ":"), let port = Int(endpoint[endpoint.index(after: colon)...]), (1...65535).contains(port) else {
            throw ManagedConfigError(line: line, "server \(words[1]): \"\(endpoint)\" has no port between 1 and 65535")
        }
        var address = String(endpoint[..<colon])
        if address.hasPrefix("["), address.hasSuffix("]") { address = String(address.dropFirst().dropLast()) }
        guard AddressLiteral.isValid(address) else {
            throw ManagedConfigError(line: line, "server \(words[1]): \"\(address)\" is not an IP address")
        }
        // The last `weight` wins in HAProxy: check every one.
        for i in words.indices where words[i] == "weight" {
            guard i + 1 < words.count, let w = Int(words[i + 1]), (0...256).contains(w) else {
                throw ManagedConfigError(line: line, "server \(words[1]): weight must be 0...256")
            }
        }
    }

    /// HAProxy proxy and server names: letters, digits, `-`, `_`, `.` and `:`.
    static func isIdentifier(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D || b == 0x5F || b == 0x2E || b == 0x3A
        }
    }
}
