/// The JSON shapes the fast readers are made of (an array, an object of keys, an object of known fields), each with
/// the fast path's rules: plain-string keys, a key at most once, a kept field only in its exact spelling.
extension AnswerScanner {
    /// `[` element, … `]`.
    mutating func elements<T>(reserving capacity: Int = 0, _ element: (inout AnswerScanner) throws(GiveUp) -> T) throws(GiveUp) -> [T] {
        var out: [T] = []
        out.reserveCapacity(capacity)
        try expect(UInt8(ascii: "["))
        if try take(UInt8(ascii: "]")) { return out }
        repeat { out.append(try element(&self)) } while try take(UInt8(ascii: ","))
        try expect(UInt8(ascii: "]"))
        return out
    }

    /// `{` "key": value, … `}`, every key a plain string, each once.
    mutating func keyed<T>(reserving capacity: Int = 0, _ value: (inout AnswerScanner) throws(GiveUp) -> T) throws(GiveUp) -> [String: T] {
        var out: [String: T] = [:]
        out.reserveCapacity(capacity)
        try expect(UInt8(ascii: "{"))
        if try take(UInt8(ascii: "}")) { return out }
        repeat {
            let key = string(try plainString())
            try expect(UInt8(ascii: ":"))
            guard out.updateValue(try value(&self), forKey: key) == nil else { throw GiveUp() }
        } while try take(UInt8(ascii: ","))
        try expect(UInt8(ascii: "}"))
        return out
    }

    /// An object whose kept fields are `kept` (exact spelling): `read` gets a field's index with the scanner at its
    /// value; other fields are skipped. A kept field twice, or spelled in other letter case, gives up (the full
    /// decoder matches names case-insensitively and words what it finds).
    mutating func members(_ kept: [StaticString], _ read: (Int, inout AnswerScanner) throws(GiveUp) -> Void) throws(GiveUp) {
        try expect(UInt8(ascii: "{"))
        if try take(UInt8(ascii: "}")) { return }
        var seen: UInt16 = 0
        repeat {
            let key = try plainString()
            try expect(UInt8(ascii: ":"))
            var field: Int?
            for (k, name) in kept.enumerated() where key.count == name.utf8CodeUnitCount {
                if spells(key, name) { field = k; break }
                if spells(key, name, ignoringCase: true) { throw GiveUp() }
            }
            guard let field else {
                try skipValue(depth: 1)
                continue
            }
            let bit = UInt16(1) << field
            guard seen & bit == 0 else { throw GiveUp() }
            seen |= bit
            try read(field, &self)
        } while try take(UInt8(ascii: ","))
        try expect(UInt8(ascii: "}"))
    }

    /// Consumes `null` when it comes next.
    mutating func takeNull() throws(GiveUp) -> Bool {
        guard try peek() == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }
}
