/// The health of a discovered instance, in the order an operator ranks them: maintenance beats critical beats warning.
public enum InstanceHealth: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    case passing
    case warning
    case critical
    case maintenance

    private var rank: Int {
        switch self {
        case .passing: return 0
        case .warning: return 1
        case .critical: return 2
        case .maintenance: return 3
        }
    }

    public static func < (a: InstanceHealth, b: InstanceHealth) -> Bool { a.rank < b.rank }

    /// The worst of several health states (maintenance > critical > warning > passing).
    public static func aggregate<S: Sequence>(_ states: S) -> InstanceHealth where S.Element == InstanceHealth {
        states.max() ?? .passing
    }
}

/// One discovered instance of a service, as a provider reports it.
public struct Instance: Sendable, Hashable, Codable {
    /// Stable identity across snapshots (Consul service ID + node, EC2 instance id, file entry id).
    public var id: String
    /// An IPv4 or IPv6 address literal; HAProxy's `set server addr` takes no host names.
    public var address: String
    /// The port; nil means "use the backend's `port`".
    public var port: Int?
    /// HAProxy weight 0...256; nil means the backend's default weight.
    public var weight: Int?
    public var health: InstanceHealth
    public var tags: [String]
    public var meta: [String: String]

    public init(
        id: String, address: String, port: Int? = nil, weight: Int? = nil,
        health: InstanceHealth = .passing, tags: [String] = [], meta: [String: String] = [:]
    ) {
        self.id = id
        self.address = address
        self.port = port
        self.weight = weight
        self.health = health
        self.tags = tags
        self.meta = meta
    }
}

/// Address literal checks shared by providers, the planner and the state store.
public enum AddressLiteral {
    /// True for a dotted-quad IPv4 literal.
    public static func isIPv4(_ s: String) -> Bool {
        // Byte scan: this runs for every instance of every snapshot.
        var parts = 0, digits = 0, value = 0, leadingZero = false
        for b in s.utf8 {
            if b == 0x2E {
                guard digits > 0 else { return false }
                parts += 1
                digits = 0
                value = 0
                leadingZero = false
                continue
            }
            guard b >= 0x30 && b <= 0x39, digits < 3, !leadingZero else { return false }
            if digits == 0 && b == 0x30 { leadingZero = true }
            value = value * 10 + Int(b - 0x30)
            digits += 1
            guard value <= 255 else { return false }
        }
        return parts == 3 && digits > 0
    }

    /// True for an IPv6 literal (no brackets, no zone).
    public static func isIPv6(_ s: String) -> Bool {
        guard s.utf8.contains(0x3A), s.utf8.count <= 45 else { return false }
        var body = Substring(s)
        var groupsAllowed = 8
        if let lastColon = body.lastIndex(of: ":"), body[body.index(after: lastColon)...].contains(".") {
            let tail = body[body.index(after: lastColon)...]
            guard isIPv4(String(tail)) else { return false }
            body = body[..<body.index(after: lastColon)]
            if body.hasSuffix("::") == false { body = body.dropLast() }
            groupsAllowed = 6
        }
        let doubleColons = body.components(separatedBy: "::").count - 1
        guard doubleColons <= 1 else { return false }
        let groups = body.split(separator: ":", omittingEmptySubsequences: true)
        for g in groups {
            guard g.count <= 4, g.allSatisfy({ $0.isHexDigit }) else { return false }
        }
        if doubleColons == 1 { return groups.count < groupsAllowed }
        if body.hasPrefix(":") || body.hasSuffix(":") { return false }
        return groups.count == groupsAllowed
    }

    public static func isValid(_ s: String) -> Bool { isIPv4(s) || isIPv6(s) }
}
