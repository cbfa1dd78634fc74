/// Reads a `show servers state` answer (format version 1) one line at a time, so that a backend's rows can be used
/// while HAProxy is still sending the next backend's.
///
/// Works on the UTF-8 bytes (not `Character`s): with 10,000 servers the answer is ~1 MB. Blank lines are skipped and
/// not counted, so line numbers in errors are those `RuntimeParsers.serversState` always reported.
public struct ServersStateReader: Sendable {
    static let command = "show servers state"
    static let required = ["be_id", "be_name", "srv_id", "srv_name", "srv_addr", "srv_op_state", "srv_admin_state", "srv_uweight", "srv_iweight", "srv_port"]

    private var lines = 0
    private var headerCount = 0
    private var column: [Int] = []
    private var fqdnColumn: Int?
    /// The current line's field ranges, kept between lines (one allocation for the whole answer, not one a row).
    private var f: [Range<Int>] = []

    public init() {}

    /// Parses one line (without its newline): its row, or nil for the version line, the header, comments and blanks.
    public mutating func read(_ line: UnsafeBufferPointer<UInt8>) throws(RuntimeParseError) -> ServerStateRow? {
        guard !line.isEmpty else { return nil }
        lines += 1
        let lineNo = lines
        Self.fields(line, into: &f)
        let f = self.f
        func string(_ r: Range<Int>) -> String { String(decoding: UnsafeBufferPointer(rebasing: line[r]), as: UTF8.self) }
        if lineNo == 1 {
            guard f.count == 1, string(f[0]) == "1" else {
                throw RuntimeParseError(command: Self.command, message: "expected format version 1, got \"\(string(0..<line.count).prefix(80))\"", line: 1)
            }
            return nil
        }
        if lineNo == 2 {
            guard line[0] == 0x23 else { throw RuntimeParseError(command: Self.command, message: "missing the column header", line: 2) }
            let header = f.dropFirst().map(string)  // drop "#"
            var index: [String: Int] = [:]
            for (i, name) in header.enumerated() { index[name] = i }
            for name in Self.required {
                guard let i = index[name] else { throw RuntimeParseError(command: Self.command, message: "header lacks column \(name)", line: 2) }
                column.append(i)
            }
            fqdnColumn = index["srv_fqdn"]
            headerCount = header.count
            return nil
        }
        if line[0] == 0x23 { return nil }
        guard f.count >= headerCount else {
            throw RuntimeParseError(command: Self.command, message: "expected \(headerCount) fields, got \(f.count)", line: lineNo)
        }
        func int(_ k: Int) throws(RuntimeParseError) -> Int {
            let r = f[column[k]]
            var value = 0
            var negative = false
            var digits = 0
            for j in r {
                let b = line[j]
                if j == r.lowerBound && b == 0x2D { negative = true; continue }
                guard b >= 0x30 && b <= 0x39, digits < 18 else {
                    throw RuntimeParseError(command: Self.command, message: "\(Self.required[k]): expected an integer, got \"\(string(r).prefix(40))\"", line: lineNo)
                }
                value = value * 10 + Int(b - 0x30)
                digits += 1
            }
            guard digits > 0 else {
                throw RuntimeParseError(command: Self.command, message: "\(Self.required[k]): expected an integer, got \"\(string(r).prefix(40))\"", line: lineNo)
            }
            return negative ? -value : value
        }
        let fqdn = fqdnColumn.map { string(f[$0]) }
        return ServerStateRow(
            backendID: try int(0), backend: string(f[column[1]]), serverID: try int(2), server: string(f[column[3]]),
            address: string(f[column[4]]), operationalState: try int(5), adminState: try int(6),
            userWeight: try int(7), initialWeight: try int(8), port: try int(9),
            fqdn: fqdn == "-" ? nil : fqdn
        )
    }

    /// Checks, once the answer has ended, that it had its version line and column header.
    public func finish() throws(RuntimeParseError) {
        if lines == 0 { throw RuntimeParseError(command: Self.command, message: "empty answer") }
        if lines < 2 { throw RuntimeParseError(command: Self.command, message: "missing the column header", line: 2) }
    }

    /// Field ranges of a line: separated by spaces, tabs and carriage returns.
    private static func fields(_ line: UnsafeBufferPointer<UInt8>, into out: inout [Range<Int>]) {
        out.removeAll(keepingCapacity: true)
        out.reserveCapacity(26)
        var s = 0
        for i in 0..<line.count where line[i] == 0x20 || line[i] == 0x09 || line[i] == 0x0D {
            if i > s { out.append(s..<i) }
            s = i + 1
        }
        if s < line.count { out.append(s..<line.count) }
    }
}
