/// One row of `show servers state`.
public struct ServerStateRow: Sendable, Hashable {
    public var backendID: Int
    public var backend: String
    public var serverID: Int
    public var server: String
    public var address: String
    /// 0 stopped, 1 starting, 2 running, 3 stopping.
    public var operationalState: Int
    /// `srv_admin_state` bits: 0x01 forced maint, 0x02 inherited maint, 0x04 config `disabled`, 0x08 forced drain,
    /// 0x10 inherited drain, 0x20 maint from DNS.
    public var adminState: Int
    public var userWeight: Int
    public var initialWeight: Int
    public var port: Int
    public var fqdn: String?
}

/// The parts of `show info` the bridge uses, plus every field as read.
public struct HAProxyInfo: Sendable, Hashable {
    public var pid: Int
    public var startTimeSec: Int?
    public var uptimeSec: Int?
    public var version: String
    public var fields: [String: String]
}

/// A `show` answer that does not have the shape HAProxy 2.6 gives.
public struct RuntimeParseError: Error, Sendable, CustomStringConvertible {
    public var command: String
    public var message: String
    public var line: Int?

    public var description: String {
        if let line { return "\(command): line \(line): \(message)" }
        return "\(command): \(message)"
    }
}

/// Parsers for the `show` answers the bridge reads; each checks the shape and names what is wrong.
public enum RuntimeParsers {
    /// Parses `show servers state [backend]` (format version 1).
    public static func serversState(_ answer: String) throws(RuntimeParseError) -> [ServerStateRow] {
        let cmd = "show servers state"
        let lines = answer.split(separator: "\n", omittingEmptySubsequences: true)
        guard let version = lines.first else { throw RuntimeParseError(command: cmd, message: "empty answer") }
        guard version.trimmingWhitespaceSub() == "1" else {
            throw RuntimeParseError(command: cmd, message: "expected format version 1, got \"\(version.prefix(80))\"", line: 1)
        }
        guard lines.count >= 2, lines[1].hasPrefix("# ") else {
            throw RuntimeParseError(command: cmd, message: "missing the column header", line: 2)
        }
        let header = lines[1].dropFirst(2).split(separator: " ").map(String.init)
        var index: [String: Int] = [:]
        for (i, name) in header.enumerated() { index[name] = i }
        let required = ["be_id", "be_name", "srv_id", "srv_name", "srv_addr", "srv_op_state", "srv_admin_state", "srv_uweight", "srv_iweight", "srv_port"]
        for name in required where index[name] == nil {
            throw RuntimeParseError(command: cmd, message: "header lacks column \(name)", line: 2)
        }
        var rows: [ServerStateRow] = []
        rows.reserveCapacity(lines.count - 2)
        for (n, line) in lines.dropFirst(2).enumerated() {
            let lineNo = n + 3
            if line.hasPrefix("#") { continue }
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= header.count else {
                throw RuntimeParseError(command: cmd, message: "expected \(header.count) fields, got \(f.count)", line: lineNo)
            }
            func int(_ name: String) throws(RuntimeParseError) -> Int {
                let raw = f[index[name] ?? 0]
                guard let v = Int(raw) else { throw RuntimeParseError(command: cmd, message: "\(name): expected an integer, got \"\(raw.prefix(40))\"", line: lineNo) }
                return v
            }
            func str(_ name: String) -> String { String(f[index[name] ?? 0]) }
            let fqdn = index["srv_fqdn"].map { String(f[$0]) }
            rows.append(ServerStateRow(
                backendID: try int("be_id"), backend: str("be_name"), serverID: try int("srv_id"), server: str("srv_name"),
                address: str("srv_addr"), operationalState: try int("srv_op_state"), adminState: try int("srv_admin_state"),
                userWeight: try int("srv_uweight"), initialWeight: try int("srv_iweight"), port: try int("srv_port"),
                fqdn: fqdn == "-" ? nil : fqdn
            ))
        }
        return rows
    }

    /// Parses `show info` (`Key: value` lines); `Pid` must be present.
    public static func info(_ answer: String) throws(RuntimeParseError) -> HAProxyInfo {
        let cmd = "show info"
        var fields: [String: String] = [:]
        for (n, line) in answer.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            guard let colon = line.firstIndex(of: ":") else {
                throw RuntimeParseError(command: cmd, message: "expected \"Key: value\", got \"\(line.prefix(80))\"", line: n + 1)
            }
            let key = String(line[..<colon])
            let value = String(line[line.index(after: colon)...]).trimmingWhitespace()
            fields[key] = value
        }
        guard let pidText = fields["Pid"] else { throw RuntimeParseError(command: cmd, message: "no Pid field") }
        guard let pid = Int(pidText) else { throw RuntimeParseError(command: cmd, message: "Pid: expected an integer, got \"\(pidText.prefix(40))\"") }
        return HAProxyInfo(
            pid: pid, startTimeSec: fields["Start_time_sec"].flatMap { Int($0) }, uptimeSec: fields["Uptime_sec"].flatMap { Int($0) },
            version: fields["Version"] ?? "", fields: fields
        )
    }

    /// Current sessions (`scur`) per server from `show stat <backend> 4 -1` (CSV).
    public static func statSessions(_ answer: String) throws(RuntimeParseError) -> [String: Int] {
        let cmd = "show stat"
        let lines = answer.split(separator: "\n", omittingEmptySubsequences: true)
        guard let header = lines.first, header.hasPrefix("# ") else {
            throw RuntimeParseError(command: cmd, message: "missing the CSV header", line: 1)
        }
        let columns = header.dropFirst(2).split(separator: ",", omittingEmptySubsequences: false)
        guard let sv = columns.firstIndex(of: "svname"), let scur = columns.firstIndex(of: "scur") else {
            throw RuntimeParseError(command: cmd, message: "header lacks svname or scur", line: 1)
        }
        var result: [String: Int] = [:]
        for (n, line) in lines.dropFirst().enumerated() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            guard f.count > max(sv, scur) else {
                throw RuntimeParseError(command: cmd, message: "expected at least \(max(sv, scur) + 1) fields, got \(f.count)", line: n + 2)
            }
            let name = String(f[sv])
            if name == "BACKEND" || name == "FRONTEND" { continue }
            guard let v = Int(f[scur]) else {
                throw RuntimeParseError(command: cmd, message: "scur: expected an integer, got \"\(f[scur].prefix(40))\"", line: n + 2)
            }
            result[name] = v
        }
        return result
    }
}

extension Substring {
    func trimmingWhitespaceSub() -> Substring {
        var s = self
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return s
    }
}
