/// Reads a `/v1/health/state/<state>` answer straight from its bytes, with no JSON tree or `Decoder` in between.
///
/// The change feed reads the whole check list on every change (about 250 bytes a check: half a megabyte at 2,000
/// services); through `JSONDecoder` that took 30-45 ms at 2,000 checks on a loaded 2-core machine, most of a change's
/// latency budget. This reads the seven fields the feed uses and skips the rest (`Output` and `Notes` included, with
/// their escapes) in about a millisecond. It accepts only Consul's own spelling of the fields with the expected types;
/// anything else (other letter case, null, a field of another type, a repeated field, an element that is not an
/// object, invalid JSON) makes it give up, and `ConsulMapping.parseChecks` falls back to the full decoder, which
/// accepts the variants and words the errors.
enum CheckListScanner {
    /// The fields the feed reads, in `check`'s order.
    private static let fields: [StaticString] = ["Node", "CheckID", "Status", "ServiceID", "ServiceName", "CreateIndex", "ModifyIndex"]

    /// The checks, or nil when the answer is outside the plain shape (the caller then uses the full decoder).
    static func read(_ body: [UInt8]) -> [ConsulCheck]? {
        AnswerScanner.read(body, checks)
    }

    private static func checks(_ s: inout AnswerScanner) throws(AnswerScanner.GiveUp) -> [ConsulCheck] {
        // About 250 bytes a check: reserve once rather than grow a dozen times.
        let capacity = s.b.count / 200
        let out = try s.elements(reserving: capacity, check)
        try s.expectEnd()
        return out
    }

    static func check(_ s: inout AnswerScanner) throws(AnswerScanner.GiveUp) -> ConsulCheck {
        var c = ConsulCheck(checkID: "", status: "")
        try s.members(fields) { (field, s) throws(AnswerScanner.GiveUp) in
            switch field {
            case 0: c.node = s.string(try s.plainString())
            case 1: c.checkID = s.string(try s.plainString())
            case 2: c.status = s.string(try s.plainString())
            case 3: c.serviceID = s.string(try s.plainString())
            case 4: c.serviceName = s.string(try s.plainString())
            case 5: c.createIndex = try s.unsignedInteger()
            default: c.modifyIndex = try s.unsignedInteger()
            }
        }
        return c
    }
}
