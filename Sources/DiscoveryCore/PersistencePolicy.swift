import FoundationEssentials

/// How a backend keeps a client on one instance, in a way that survives a failover to the other host of an HA pair.
///
/// Both modes key persistence by the instance's address, never by the slot's name, because two bridges may put the same
/// instance in different slots: `source` keys a stick table by the server's address (`srvkey addr`, HAProxy 2.4+), so
/// an entry synced through a `peers` section finds the server holding that address on the other host; `cookie` uses
/// dynamic cookies, a hash of the server's address, port and a shared key, which both hosts compute alike.
public struct PersistencePolicy: Sendable, Hashable, CustomStringConvertible {
    public enum Mode: String, Sendable, Hashable, CaseIterable {
        case none, source, cookie
    }

    public var mode: Mode
    /// `source`: the stick table's size, in HAProxy's notation (`100k`, `1m`).
    public var tableSize: String
    /// `source`: how long an idle client stays stuck.
    public var expire: Duration
    /// `source`: the operator's `peers` section that syncs the table with the other host, when set.
    public var peers: String?
    /// `cookie`: the cookie's name.
    public var cookieName: String
    /// `cookie`: where the key came from (for messages; the key itself is never printed).
    public var cookieKeyFile: String?
    /// `cookie`: the `dynamic-cookie-key`, read from `cookie_key_file`. Only the rendered haproxy.cfg carries it.
    public var cookieKey: Secret?

    public static let defaultTableSize = "100k"
    public static let defaultExpire: Duration = .seconds(30 * 60)
    public static let defaultCookieName = "SRVID"
    /// Shorter keys make cookie values guessable for every address of the backend.
    public static let minimumKeyLength = 16

    public static let none = PersistencePolicy(mode: .none)

    public init(
        mode: Mode, tableSize: String = defaultTableSize, expire: Duration = defaultExpire, peers: String? = nil,
        cookieName: String = defaultCookieName, cookieKeyFile: String? = nil, cookieKey: Secret? = nil
    ) {
        self.mode = mode
        self.tableSize = tableSize
        self.expire = expire
        self.peers = peers
        self.cookieName = cookieName
        self.cookieKeyFile = cookieKeyFile
        self.cookieKey = cookieKey
    }

    /// The backend lines that make persistence independent of slot names (empty for `none`).
    public var haproxyLines: [String] {
        switch mode {
        case .none:
            return []
        case .source:
            let peersPart = peers.map { " peers \($0)" } ?? ""
            return ["stick-table type ip size \(tableSize) expire \(DurationText.format(expire)) srvkey addr\(peersPart)", "stick on src"]
        case .cookie:
            return ["cookie \(cookieName) insert indirect nocache dynamic", "dynamic-cookie-key \(cookieKey?.value ?? "")"]
        }
    }

    public var description: String {
        switch mode {
        case .none: return "none"
        case .source: return "source (size \(tableSize), expire \(DurationText.format(expire))\(peers.map { ", peers \($0)" } ?? ""))"
        case .cookie: return "cookie \(cookieName) (key from \(cookieKeyFile ?? "-"))"
        }
    }
}

/// A value that must never reach a log line or an error message: it prints as `<redacted>`.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    public let value: String
    public init(_ value: String) { self.value = value }
    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
}
