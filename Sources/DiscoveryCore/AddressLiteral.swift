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
