import DiscoveryCore

/// Writes a `StateDocument` as the bytes `JSONEncoder` with `.sortedKeys` writes for it (compact, keys in the same
/// order, numbers and string escapes spelled the same), into byte buffers, re-encoding only the tables that changed
/// since the last document when given the previous call's `FragmentCache`.
///
/// The state file is written after every batch that changed a table: at 10,000 slots `JSONEncoder` spent more CPU
/// than the batch's own send loop, on the same two cores as HAProxy and the next change. Files written by earlier
/// versions and by this encoder read the same (`StateStore.decode` still uses `JSONDecoder`), and
/// `StateDocumentEncoderTests` holds the two encoders byte for byte equal over random documents.
enum StateDocumentEncoder {
    /// A number JSON cannot spell (NaN, infinity), named by where it sits.
    struct NonFiniteNumber: Error, CustomStringConvertible {
        var path: String
        var description: String { "\(path): the number is not finite (NaN or infinity)" }
    }

    /// Each backend's encoded `"name":{...}` fragment with the table it was encoded from, so the next document
    /// re-encodes only the tables that changed (a table left alone keeps its slot array, and comparing it is O(1)).
    struct FragmentCache: Sendable {
        var entries: [String: (table: BackendSlots, bytes: [UInt8])] = [:]
        /// The backend names of `entries` in key order: the same set next time (the usual case) is not sorted again.
        var order: [String] = []
    }

    static func encode(_ doc: StateDocument, cache: inout FragmentCache) throws(NonFiniteNumber) -> [UInt8] {
        let sameNames = cache.order.count == doc.backends.count && cache.order.allSatisfy { doc.backends[$0] != nil }
        if !sameNames {
            cache.order = sortedKeys(doc.backends.keys)
            cache.entries = cache.entries.filter { doc.backends[$0.key] != nil }
        }
        var fragments: [[UInt8]] = []
        fragments.reserveCapacity(doc.backends.count)
        var size = 0
        for name in cache.order {
            guard let table = doc.backends[name] else { continue }
            let bytes: [UInt8]
            if let hit = cache.entries[name], hit.table == table {
                bytes = hit.bytes
            } else {
                var f = Writer()
                f.out.reserveCapacity(64 + table.slots.count * 200)
                f.string(name)
                f.byte(UInt8(ascii: ":"))
                try f.table(table, path: "backends.\(name)")
                bytes = f.out
                cache.entries[name] = (table, bytes)
            }
            fragments.append(bytes)
            size += bytes.count + 1
        }

        var w = Writer()
        w.out.reserveCapacity(256 + size)
        w.byte(UInt8(ascii: "{"))
        w.key("backends", first: true)
        w.byte(UInt8(ascii: "{"))
        for (i, fragment) in fragments.enumerated() {
            if i > 0 { w.byte(UInt8(ascii: ",")) }
            w.out.append(contentsOf: fragment)
        }
        w.byte(UInt8(ascii: "}"))
        w.key("guard_holds")
        w.byte(UInt8(ascii: "{"))
        for (i, name) in sortedKeys(doc.guardHolds.keys).enumerated() {
            guard let hold = doc.guardHolds[name] else { continue }
            if i > 0 { w.byte(UInt8(ascii: ",")) }
            w.string(name)
            w.byte(UInt8(ascii: ":"))
            try w.hold(hold, path: "guard_holds.\(name)")
        }
        w.byte(UInt8(ascii: "}"))
        if let identity = doc.haproxy {
            w.key("haproxy")
            w.byte(UInt8(ascii: "{"))
            w.key("pid", first: true)
            w.int(identity.pid)
            if let start = identity.startTimeSec {
                w.key("startTimeSec")
                w.int(start)
            }
            w.byte(UInt8(ascii: "}"))
        }
        w.key("version")
        w.int(doc.version)
        w.key("written_at")
        try w.double(doc.writtenAt, path: "written_at")
        w.byte(UInt8(ascii: "}"))
        return w.out
    }

    /// Dictionary keys in `JSONEncoder`'s `.sortedKeys` order: by Unicode scalar values, as its writer compares
    /// them (byte order of the UTF-8 spelling is the same order).
    static func sortedKeys(_ keys: Dictionary<String, some Any>.Keys) -> [String] {
        keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    struct Writer {
        var out: [UInt8] = []

        mutating func byte(_ b: UInt8) { out.append(b) }

        mutating func key(_ name: StaticString, first: Bool = false) {
            if !first { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "\""))
            name.withUTF8Buffer { out.append(contentsOf: $0) }
            out.append(UInt8(ascii: "\""))
            out.append(UInt8(ascii: ":"))
        }

        mutating func table(_ table: BackendSlots, path: String) throws(NonFiniteNumber) {
            byte(UInt8(ascii: "{"))
            key("backend", first: true)
            string(table.backend)
            key("slots")
            byte(UInt8(ascii: "["))
            for (i, slot) in table.slots.enumerated() {
                if i > 0 { byte(UInt8(ascii: ",")) }
                try self.slot(slot, path: path, index: i)
            }
            byte(UInt8(ascii: "]"))
            byte(UInt8(ascii: "}"))
        }

        /// Keys sorted: address, drainDeadline, dynamic, instanceID, number, port, server, since, state, weight;
        /// nil optionals left out, as the synthesised `Encodable` does.
        mutating func slot(_ slot: Slot, path: String, index: Int) throws(NonFiniteNumber) {
            byte(UInt8(ascii: "{"))
            var first = true
            if let address = slot.address {
                key("address", first: true)
                string(address)
                first = false
            }
            if let deadline = slot.drainDeadline {
                key("drainDeadline", first: first)
                try double(deadline, path: "\(path).slots[\(index)].drainDeadline")
                first = false
            }
            key("dynamic", first: first)
            literal(slot.dynamic ? "true" : "false")
            if let id = slot.instanceID {
                key("instanceID")
                string(id)
            }
            key("number")
            int(slot.number)
            if let port = slot.port {
                key("port")
                int(port)
            }
            key("server")
            string(slot.server)
            key("since")
            try double(slot.since, path: "\(path).slots[\(index)].since")
            key("state")
            string(slot.state.rawValue)
            key("weight")
            int(slot.weight)
            byte(UInt8(ascii: "}"))
        }

        /// Keys sorted: fingerprint, reason, since, wouldRemove.
        mutating func hold(_ hold: GuardHold, path: String) throws(NonFiniteNumber) {
            byte(UInt8(ascii: "{"))
            key("fingerprint", first: true)
            byte(UInt8(ascii: "["))
            for (i, f) in hold.fingerprint.enumerated() {
                if i > 0 { byte(UInt8(ascii: ",")) }
                string(f)
            }
            byte(UInt8(ascii: "]"))
            key("reason")
            string(hold.reason)
            key("since")
            try double(hold.since, path: "\(path).since")
            key("wouldRemove")
            int(hold.wouldRemove)
            byte(UInt8(ascii: "}"))
        }

        static func hex(_ nibble: UInt8) -> UInt8 { nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10 }

        mutating func literal(_ text: StaticString) {
            text.withUTF8Buffer { out.append(contentsOf: $0) }
        }

        mutating func int(_ value: Int) {
            // Decimal digits straight into the buffer (no String per number).
            if value == 0 {
                out.append(UInt8(ascii: "0"))
                return
            }
            var magnitude = value.magnitude
            if value < 0 { out.append(UInt8(ascii: "-")) }
            let start = out.count
            while magnitude > 0 {
                out.append(UInt8(ascii: "0") + UInt8(magnitude % 10))
                magnitude /= 10
            }
            out[start...].reverse()
        }

        /// As `JSONEncoder` spells a `Double`: Swift's shortest round-trip description, without a trailing `.0`.
        mutating func double(_ value: Double, path: String) throws(NonFiniteNumber) {
            guard value.isFinite else { throw NonFiniteNumber(path: path) }
            var text = value.description
            if text.hasSuffix(".0") { text.removeLast(2) }
            out.append(contentsOf: text.utf8)
        }

        /// A JSON string as `JSONEncoder` escapes it: quote, backslash, slash (`\/`) and the control characters
        /// (`\b \f \n \r \t`, the rest as `\u00XX`); everything else, non-ASCII included, as its UTF-8 bytes.
        mutating func string(_ value: String) {
            out.append(UInt8(ascii: "\""))
            for b in value.utf8 {
                switch b {
                case UInt8(ascii: "\""): out.append(UInt8(ascii: "\\")); out.append(b)
                case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(b)
                case UInt8(ascii: "/"): out.append(UInt8(ascii: "\\")); out.append(b)
                case 0x08: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "b"))
                case 0x0C: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "f"))
                case 0x0A: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
                case 0x0D: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
                case 0x09: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
                case 0..<0x20:
                    out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), Self.hex(b >> 4), Self.hex(b & 0xF)])
                default: out.append(b)
                }
            }
            out.append(UInt8(ascii: "\""))
        }
    }
}
