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
    private enum Field: Int, CaseIterable {
        case node, checkID, status, serviceID, serviceName, createIndex, modifyIndex

        var name: StaticString {
            switch self {
            case .node: "Node"
            case .checkID: "CheckID"
            case .status: "Status"
            case .serviceID: "ServiceID"
            case .serviceName: "ServiceName"
            case .createIndex: "CreateIndex"
            case .modifyIndex: "ModifyIndex"
            }
        }
    }

    /// The checks, or nil when the answer is outside the plain shape (the caller then uses the full decoder).
    static func read(_ body: [UInt8]) -> [ConsulCheck]? {
        AnswerScanner.read(body, checks)
    }

    private static func checks(_ s: inout AnswerScanner) throws(AnswerScanner.GiveUp) -> [ConsulCheck] {
        var out: [ConsulCheck] = []
        // About 250 bytes a check: reserve once rather than grow a dozen times.
        out.reserveCapacity(s.b.count / 200)
        try s.expect(UInt8(ascii: "["))
        if try !s.take(UInt8(ascii: "]")) {
            repeat { out.append(try check(&s)) } while try s.take(UInt8(ascii: ","))
            try s.expect(UInt8(ascii: "]"))
        }
        try s.expectEnd()
        return out
    }

    static func check(_ s: inout AnswerScanner) throws(AnswerScanner.GiveUp) -> ConsulCheck {
        var c = ConsulCheck(checkID: "", status: "")
        var seen: UInt8 = 0
        try s.expect(UInt8(ascii: "{"))
        if try s.take(UInt8(ascii: "}")) { return c }
        repeat {
            let key = try s.plainString()
            try s.expect(UInt8(ascii: ":"))
            guard let field = try field(key, s) else {
                try s.skipValue(depth: 1)
                continue
            }
            let bit = UInt8(1) << field.rawValue
            guard seen & bit == 0 else { throw AnswerScanner.GiveUp() }
            seen |= bit
            switch field {
            case .node: c.node = s.string(try s.plainString())
            case .checkID: c.checkID = s.string(try s.plainString())
            case .status: c.status = s.string(try s.plainString())
            case .serviceID: c.serviceID = s.string(try s.plainString())
            case .serviceName: c.serviceName = s.string(try s.plainString())
            case .createIndex: c.createIndex = try s.unsignedInteger()
            case .modifyIndex: c.modifyIndex = try s.unsignedInteger()
            }
        } while try s.take(UInt8(ascii: ","))
        try s.expect(UInt8(ascii: "}"))
        return c
    }

    /// The field `key` spells exactly; a key that differs from one only in letter case is the full decoder's to read.
    private static func field(_ key: Range<Int>, _ s: AnswerScanner) throws(AnswerScanner.GiveUp) -> Field? {
        for f in Field.allCases where key.count == f.name.utf8CodeUnitCount {
            if s.spells(key, f.name) { return f }
            if s.spells(key, f.name, ignoringCase: true) { throw AnswerScanner.GiveUp() }
        }
        return nil
    }
}
