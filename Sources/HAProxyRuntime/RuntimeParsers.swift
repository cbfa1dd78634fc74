/// Parsers for the `show` answers the bridge reads; each checks the shape and names what is wrong.
public enum RuntimeParsers {
    /// Parses `show servers state [backend]` (format version 1), line by line with `ServersStateReader`.
    public static func serversState(_ answer: String) throws(RuntimeParseError) -> [ServerStateRow] {
        var reader = ServersStateReader()
        var rows: [ServerStateRow] = []
        var text = answer
        let result: Result<Void, RuntimeParseError> = text.withUTF8 { bytes in
            var start = 0
            do throws(RuntimeParseError) {
                for i in 0...bytes.count where i == bytes.count || bytes[i] == 0x0A {
                    if let row = try reader.read(UnsafeBufferPointer(rebasing: bytes[start..<i])) { rows.append(row) }
                    start = i + 1
                }
                try reader.finish()
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
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
