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
        let capacity = s.b.count / 12
        let out = try s.keyed(reserving: capacity) { (s) throws(AnswerScanner.GiveUp) in
            try s.elements { (s) throws(AnswerScanner.GiveUp) in s.string(try s.plainString()) }
        }
        try s.expectEnd()
        return out
    }
}
