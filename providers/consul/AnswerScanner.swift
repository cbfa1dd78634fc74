/// A forward-only reader over the bytes of a JSON answer, for the fast paths of the change feed's big answers.
///
/// It reads only plain shapes (strings without escapes where a value is kept, non-negative integers) and throws
/// `GiveUp` on anything else, so the caller falls back to the full decoder, which accepts Consul's variants and
/// words every error. Whatever it skips is still checked against the JSON grammar (RFC 8259, UTF-8 included): it
/// never accepts a document the full decoder would reject.
struct AnswerScanner {
    /// Outside the plain shape, or not valid JSON: the full decoder decides.
    struct GiveUp: Error {}

    let b: UnsafeBufferPointer<UInt8>
    var i = 0

    init(_ b: UnsafeBufferPointer<UInt8>) { self.b = b }

    /// Runs `read` over `body`'s bytes: its value, or nil when it gave up (the caller then uses the full decoder).
    static func read<T>(_ body: [UInt8], _ read: (inout AnswerScanner) throws(GiveUp) -> T) -> T? {
        body.withUnsafeBufferPointer { b in
            var s = AnswerScanner(b)
            do throws(GiveUp) {
                return try read(&s)
            } catch {
                return nil
            }
        }
    }

    static let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")

    mutating func skipWhitespace() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
    }

    /// The next byte after whitespace, not consumed.
    mutating func peek() throws(GiveUp) -> UInt8 {
        skipWhitespace()
        guard i < b.count else { throw GiveUp() }
        return b[i]
    }

    mutating func expect(_ c: UInt8) throws(GiveUp) {
        guard try peek() == c else { throw GiveUp() }
        i += 1
    }

    /// Consumes `c` when it comes next.
    mutating func take(_ c: UInt8) throws(GiveUp) -> Bool {
        guard try peek() == c else { return false }
        i += 1
        return true
    }

    /// Only whitespace is left.
    mutating func expectEnd() throws(GiveUp) {
        skipWhitespace()
        guard i == b.count else { throw GiveUp() }
    }

    /// A string without escapes: the range of its bytes between the quotes.
    mutating func plainString() throws(GiveUp) -> Range<Int> {
        try expect(Self.quote)
        let start = i
        while i < b.count {
            let c = b[i]
            if c == Self.quote {
                i += 1
                return start..<(i - 1)
            }
            guard c != Self.backslash, c >= 0x20 else { throw GiveUp() }
            if c < 0x80 { i += 1 } else { try skipUTF8() }
        }
        throw GiveUp()
    }

    func string(_ r: Range<Int>) -> String { String(decoding: UnsafeBufferPointer(rebasing: b[r]), as: UTF8.self) }

    /// Whether the bytes in `r` spell `name` exactly, or (`ignoringCase`) up to ASCII case.
    func spells(_ r: Range<Int>, _ name: StaticString, ignoringCase: Bool = false) -> Bool {
        guard r.count == name.utf8CodeUnitCount else { return false }
        let n = name.utf8Start
        for k in 0..<r.count {
            let x = b[r.lowerBound + k], y = n[k]
            if x == y { continue }
            guard ignoringCase, x | 0x20 == y | 0x20, (x | 0x20) >= 0x61, (x | 0x20) <= 0x7A else { return false }
        }
        return true
    }

    /// A non-negative integer without fraction or exponent that fits 64 bits.
    mutating func unsignedInteger() throws(GiveUp) -> UInt64 {
        _ = try peek()
        let start = i
        var value: UInt64 = 0
        while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(b[i] - 0x30))
            guard !o1, !o2 else { throw GiveUp() }
            value = s
            i += 1
        }
        let digits = i - start
        guard digits > 0, digits == 1 || b[start] != 0x30 else { throw GiveUp() }
        if i < b.count, b[i] == UInt8(ascii: ".") || b[i] | 0x20 == UInt8(ascii: "e") { throw GiveUp() }
        return value
    }
}
