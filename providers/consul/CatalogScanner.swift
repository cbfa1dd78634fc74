/// Reads a `/v1/catalog/services` answer (service name → tags) straight from its bytes.
///
/// The change feed reads the whole catalog on every registration change (about 15 bytes a service). Like
/// `CheckListScanner`, it accepts only the plain shape (names and tags as strings without escapes, each name once)
/// and gives up on anything else, so `ConsulMapping.parseCatalog` falls back to the full decoder and its errors.
enum CatalogScanner {
    /// Service name → tags, or nil when the answer is outside the plain shape.
    static func read(_ body: [UInt8]) -> [String: [String]]? {
        AnswerScanner.read(body, catalog)
    }

    private static func catalog(_ s: inout AnswerScanner) throws(AnswerScanner.GiveUp) -> [String: [String]] {
        var out: [String: [String]] = [:]
        out.reserveCapacity(s.b.count / 12)
        try s.expect(UInt8(ascii: "{"))
        if try !s.take(UInt8(ascii: "}")) {
            repeat {
                let name = s.string(try s.plainString())
                try s.expect(UInt8(ascii: ":"))
                var tags: [String] = []
                try s.expect(UInt8(ascii: "["))
                if try !s.take(UInt8(ascii: "]")) {
                    repeat { tags.append(s.string(try s.plainString())) } while try s.take(UInt8(ascii: ","))
                    try s.expect(UInt8(ascii: "]"))
                }
                guard out.updateValue(tags, forKey: name) == nil else { throw AnswerScanner.GiveUp() }
            } while try s.take(UInt8(ascii: ","))
            try s.expect(UInt8(ascii: "}"))
        }
        try s.expectEnd()
        return out
    }
}
