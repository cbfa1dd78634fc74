/// Skipping a value the fast path does not keep (a check's `Output`, `Notes`, `ServiceTags`…), checked against the
/// JSON grammar all the same.
extension AnswerScanner {
    /// Deeper than this is left to the full decoder.
    static let maxDepth = 64

    mutating func skipValue(depth: Int = 0) throws(GiveUp) {
        guard depth < Self.maxDepth else { throw GiveUp() }
        switch try peek() {
        case Self.quote:
            try skipString()
        case UInt8(ascii: "{"):
            i += 1
            if try take(UInt8(ascii: "}")) { return }
            repeat {
                try skipString()
                try expect(UInt8(ascii: ":"))
                try skipValue(depth: depth + 1)
            } while try take(UInt8(ascii: ","))
            try expect(UInt8(ascii: "}"))
        case UInt8(ascii: "["):
            i += 1
            if try take(UInt8(ascii: "]")) { return }
            repeat { try skipValue(depth: depth + 1) } while try take(UInt8(ascii: ","))
            try expect(UInt8(ascii: "]"))
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: try skipNumber()
        }
    }

    /// A string with any valid escapes. `\u` escapes of surrogates are left to the full decoder (it pairs them).
    mutating func skipString() throws(GiveUp) {
        try expect(Self.quote)
        while i < b.count {
            let c = b[i]
            if c == Self.quote { i += 1; return }
            guard c >= 0x20 else { throw GiveUp() }
            if c >= 0x80 { try skipUTF8(); continue }
            i += 1
            guard c == Self.backslash else { continue }
            guard i < b.count else { throw GiveUp() }
            let e = b[i]
            i += 1
            switch e {
            case Self.quote, Self.backslash, UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"),
                 UInt8(ascii: "r"), UInt8(ascii: "t"):
                continue
            case UInt8(ascii: "u"):
                guard i + 4 <= b.count else { throw GiveUp() }
                var v: UInt32 = 0
                for k in 0..<4 {
                    let h = b[i + k]
                    let d: UInt8
                    switch h {
                    case 0x30...0x39: d = h - 0x30
                    case 0x41...0x46: d = h - 0x41 + 10
                    case 0x61...0x66: d = h - 0x61 + 10
                    default: throw GiveUp()
                    }
                    v = v << 4 | UInt32(d)
                }
                guard !(0xD800...0xDFFF).contains(v) else { throw GiveUp() }
                i += 4
            default:
                throw GiveUp()
            }
        }
        throw GiveUp()
    }

    /// -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
    mutating func skipNumber() throws(GiveUp) {
        func digits(_ s: inout AnswerScanner) -> Int {
            let start = s.i
            while s.i < s.b.count, s.b[s.i] >= 0x30, s.b[s.i] <= 0x39 { s.i += 1 }
            return s.i - start
        }
        if i < b.count, b[i] == UInt8(ascii: "-") { i += 1 }
        let start = i
        let n = digits(&self)
        guard n > 0, n == 1 || b[start] != 0x30 else { throw GiveUp() }
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            guard digits(&self) > 0 else { throw GiveUp() }
        }
        if i < b.count, b[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            guard digits(&self) > 0 else { throw GiveUp() }
        }
    }

    mutating func literal(_ word: StaticString) throws(GiveUp) {
        let n = word.utf8CodeUnitCount
        guard i + n <= b.count, spells(i..<(i + n), word) else { throw GiveUp() }
        i += n
    }

    /// One multi-byte UTF-8 sequence starting at `i` (no overlongs, no surrogates, at most U+10FFFF).
    mutating func skipUTF8() throws(GiveUp) {
        let c = b[i]
        let (length, low, high): (Int, UInt8, UInt8)
        switch c {
        case 0xC2...0xDF: (length, low, high) = (2, 0x80, 0xBF)
        case 0xE0: (length, low, high) = (3, 0xA0, 0xBF)
        case 0xE1...0xEC, 0xEE...0xEF: (length, low, high) = (3, 0x80, 0xBF)
        case 0xED: (length, low, high) = (3, 0x80, 0x9F)
        case 0xF0: (length, low, high) = (4, 0x90, 0xBF)
        case 0xF1...0xF3: (length, low, high) = (4, 0x80, 0xBF)
        case 0xF4: (length, low, high) = (4, 0x80, 0x8F)
        default: throw GiveUp()
        }
        guard i + length <= b.count, b[i + 1] >= low, b[i + 1] <= high else { throw GiveUp() }
        for k in 2..<max(2, length) where b[i + k] & 0xC0 != 0x80 { throw GiveUp() }
        i += length
    }
}
