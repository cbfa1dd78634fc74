/// Parsers for the `show` answers the bridge reads; each checks the shape and names what is wrong.
public enum RuntimeParsers {
    /// Parses `show servers state [backend]` (format version 1).
    ///
    /// Works on the UTF-8 bytes (not `Character`s): with 10,000 servers this answer is ~1 MB and read every resync.
    public static func serversState(_ answer: String) throws(RuntimeParseError) -> [ServerStateRow] {
        let cmd = "show servers state"
        let bytes = Array(answer.utf8)
        do {
            var lines: [Range<Int>] = []
            var start = 0
            for i in 0..<bytes.count where bytes[i] == 0x0A {
                if i > start { lines.append(start..<i) }
                start = i + 1
            }
            if start < bytes.count { lines.append(start..<bytes.count) }
            func string(_ r: Range<Int>) -> String { String(decoding: bytes[r], as: UTF8.self) }
            func fields(_ r: Range<Int>) -> [Range<Int>] {
                var out: [Range<Int>] = []
                out.reserveCapacity(26)
                var s = r.lowerBound
                for i in r where bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0D {
                    if i > s { out.append(s..<i) }
                    s = i + 1
                }
                if s < r.upperBound { out.append(s..<r.upperBound) }
                return out
            }
            guard let first = lines.first else { throw RuntimeParseError(command: cmd, message: "empty answer") }
            let version = fields(first)
            guard version.count == 1, string(version[0]) == "1" else {
                throw RuntimeParseError(command: cmd, message: "expected format version 1, got \"\(string(first).prefix(80))\"", line: 1)
            }
            guard lines.count >= 2, bytes[lines[1].lowerBound] == 0x23 else {
                throw RuntimeParseError(command: cmd, message: "missing the column header", line: 2)
            }
            let header = fields(lines[1]).dropFirst().map(string)  // drop "#"
            var index: [String: Int] = [:]
            for (i, name) in header.enumerated() { index[name] = i }
            let required = ["be_id", "be_name", "srv_id", "srv_name", "srv_addr", "srv_op_state", "srv_admin_state", "srv_uweight", "srv_iweight", "srv_port"]
            var column: [Int] = []
            for name in required {
                guard let i = index[name] else { throw RuntimeParseError(command: cmd, message: "header lacks column \(name)", line: 2) }
                column.append(i)
            }
            let fqdnColumn = index["srv_fqdn"]
            var rows: [ServerStateRow] = []
            rows.reserveCapacity(lines.count - 2)
            for n in 2..<lines.count {
                let lineNo = n + 1
                if bytes[lines[n].lowerBound] == 0x23 { continue }
                let f = fields(lines[n])
                guard f.count >= header.count else {
                    throw RuntimeParseError(command: cmd, message: "expected \(header.count) fields, got \(f.count)", line: lineNo)
                }
                func int(_ k: Int) throws(RuntimeParseError) -> Int {
                    let r = f[column[k]]
                    var value = 0
                    var negative = false
                    var digits = 0
                    for (j, b) in bytes[r].enumerated() {
                        if j == 0 && b == 0x2D { negative = true; continue }
                        guard b >= 0x30 && b <= 0x39, digits < 18 else {
                            throw RuntimeParseError(command: cmd, message: "\(required[k]): expected an integer, got \"\(string(r).prefix(40))\"", line: lineNo)
                        }
                        value = value * 10 + Int(b - 0x30)
                        digits += 1
                    }
                    guard digits > 0 else {
                        throw RuntimeParseError(command: cmd, message: "\(required[k]): expected an integer, got \"\(string(r).prefix(40))\"", line: lineNo)
                    }
                    return negative ? -value : value
                }
                let fqdn = fqdnColumn.map { string(f[$0]) }
                rows.append(ServerStateRow(
                    backendID: try int(0), backend: string(f[column[1]]), serverID: try int(2), server: string(f[column[3]]),
                    address: string(f[column[4]]), operationalState: try int(5), adminState: try int(6),
                    userWeight: try int(7), initialWeight: try int(8), port: try int(9),
                    fqdn: fqdn == "-" ? nil : fqdn
                ))
            }
            return rows
        }
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
