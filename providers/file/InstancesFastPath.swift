import DiscoveryCore
#if canImport(Glibc)
import Glibc
#endif

/// The instances file's common shape, read straight from its bytes into instances with no JSON tree in between.
///
/// It accepts only what the strict reader (`InstancesFile.parseStrict`) accepts with the same result, and gives up on
/// anything else: escapes in strings, `null`, fractions and exponents, unknown or duplicate keys, values out of range,
/// duplicate ids. The caller then runs the strict reader, so every error keeps its exact text and JSON path. A service
/// whose array has the same bytes as in the previous version of the file keeps its parsed instances unread.
struct InstancesFastPath {
    /// Where one service's array lay in the file, and what it held.
    struct Section: Sendable {
        var range: Range<Int>
        var instances: [Instance]
    }

    struct Result {
        var services: [String: [Instance]]
        var sections: [String: Section]
        /// Services taken over unchanged from the previous version.
        var reused: Int
    }

    /// Outside the fast path's shape (or invalid): the strict reader decides.
    struct GiveUp: Error {}

    private let b: UnsafeBufferPointer<UInt8>
    private var i = 0

    private init(_ b: UnsafeBufferPointer<UInt8>) {
        self.b = b
        // A UTF-8 byte-order mark, as the strict reader skips it.
        if b.count >= 3, b[0] == 0xEF, b[1] == 0xBB, b[2] == 0xBF { i = 3 }
    }

    /// Reads `bytes`, reusing the sections of `previous` whose bytes did not change; nil means "ask the strict reader".
    static func read(_ bytes: [UInt8], previous: [UInt8], sections old: [String: Section]) -> Result? {
        bytes.withUnsafeBufferPointer { b in
            previous.withUnsafeBufferPointer { prev in
                var scanner = InstancesFastPath(b)
                return try? scanner.document(previous: prev, sections: old)
            }
        }
    }

    private mutating func document(previous: UnsafeBufferPointer<UInt8>, sections old: [String: Section]) throws(GiveUp) -> Result {
        var result = Result(services: [:], sections: [:], reused: 0)
        skipWhitespace()
        try expect(0x7B)  // {
        skipWhitespace()
        // `services` is the only key, required, once.
        guard try key() == "services" else { throw GiveUp() }
        try expect(0x3A)  // :
        skipWhitespace()
        try expect(0x7B)
        skipWhitespace()
        if peek() == 0x7D {  // }
            i += 1
        } else {
            while true {
                skipWhitespace()
                let name = try key()
                try expect(0x3A)
                skipWhitespace()
                guard peek() == 0x5B else { throw GiveUp() }  // [
                guard result.services[name] == nil else { throw GiveUp() }  // duplicate key
                let start = i
                let instances: [Instance]
                if let section = old[name], unchanged(section.range, in: previous) {
                    i = start + section.range.count
                    instances = section.instances
                    result.reused += 1
                } else {
                    instances = try instanceArray()
                }
                result.services[name] = instances
                result.sections[name] = Section(range: start..<i, instances: instances)
                skipWhitespace()
                if peek() == 0x2C { i += 1; continue }  // ,
                try expect(0x7D)
                break
            }
        }
        skipWhitespace()
        try expect(0x7D)
        skipWhitespace()
        guard i == b.count else { throw GiveUp() }
        return result
    }

    /// True when the bytes at the cursor repeat `range` of the previous version exactly: the same bytes parse the
    /// same way wherever they stand, so the previous instances are the answer.
    private func unchanged(_ range: Range<Int>, in previous: UnsafeBufferPointer<UInt8>) -> Bool {
        guard range.upperBound <= previous.count, b.count - i >= range.count, let p = previous.baseAddress, let here = b.baseAddress else { return false }
        return memcmp(here + i, p + range.lowerBound, range.count) == 0
    }

    private mutating func instanceArray() throws(GiveUp) -> [Instance] {
        i += 1  // [
        var instances: [Instance] = []
        skipWhitespace()
        if peek() == 0x5D { i += 1; return instances }  // ]
        var ids = Set<String>()
        while true {
            skipWhitespace()
            let instance = try instance()
            guard ids.insert(instance.id).inserted else { throw GiveUp() }
            instances.append(instance)
            skipWhitespace()
            if peek() == 0x2C { i += 1; continue }
            try expect(0x5D)
            return instances
        }
    }

    private mutating func instance() throws(GiveUp) -> Instance {
        try expect(0x7B)
        var seen: UInt8 = 0
        var id: String?, address: String?, port: Int?, weight: Int?
        var health = InstanceHealth.passing
        var tags: [String] = []
        var meta: [String: String] = [:]
        while true {
            skipWhitespace()
            guard peek() == 0x22 else { throw GiveUp() }  // also an empty object: `address` is required
            let k = try rawString()
            skipWhitespace()
            try expect(0x3A)
            skipWhitespace()
            let bit: UInt8
            switch Field(k, in: b) {
            case .id:
                bit = 1
                let s = try string()
                guard !s.isEmpty else { throw GiveUp() }
                id = s
            case .address:
                bit = 2
                address = try string()
            case .port:
                bit = 4
                port = try integer(in: 1...65535)
            case .weight:
                bit = 8
                weight = try integer(in: 0...256)
            case .health:
                bit = 16
                guard let h = InstanceHealth(rawValue: try string()) else { throw GiveUp() }
                health = h
            case .tags:
                bit = 32
                tags = try stringArray()
            case .meta:
                bit = 64
                meta = try stringObject()
            case .unknown:
                throw GiveUp()
            }
            guard seen & bit == 0 else { throw GiveUp() }
            seen |= bit
            skipWhitespace()
            if peek() == 0x2C { i += 1; continue }
            try expect(0x7D)
            break
        }
        guard let address, AddressLiteral.isValid(address) else { throw GiveUp() }
        return Instance(id: id ?? Endpoint.key(address: address, port: port ?? 0), address: address, port: port, weight: weight,
                        health: health, tags: tags, meta: meta)
    }

    /// The instance keys, matched on bytes without building a string.
    private enum Field {
        case id, address, port, weight, health, tags, meta, unknown

        init(_ r: Range<Int>, in b: UnsafeBufferPointer<UInt8>) {
            func equals(_ literal: StaticString) -> Bool {
                guard literal.utf8CodeUnitCount == r.count, let base = b.baseAddress else { return false }
                return memcmp(base + r.lowerBound, literal.utf8Start, r.count) == 0
            }
            switch r.count {
            case 2: self = equals("id") ? .id : .unknown
            case 4: self = equals("port") ? .port : equals("tags") ? .tags : equals("meta") ? .meta : .unknown
            case 6: self = equals("weight") ? .weight : equals("health") ? .health : .unknown
            case 7: self = equals("address") ? .address : .unknown
            default: self = .unknown
            }
        }
    }

    private mutating func stringArray() throws(GiveUp) -> [String] {
        try expect(0x5B)
        var out: [String] = []
        skipWhitespace()
        if peek() == 0x5D { i += 1; return out }
        while true {
            skipWhitespace()
            out.append(try string())
            skipWhitespace()
            if peek() == 0x2C { i += 1; continue }
            try expect(0x5D)
            return out
        }
    }

    private mutating func stringObject() throws(GiveUp) -> [String: String] {
        try expect(0x7B)
        var out: [String: String] = [:]
        skipWhitespace()
        if peek() == 0x7D { i += 1; return out }
        while true {
            skipWhitespace()
            let k = try key()
            try expect(0x3A)
            skipWhitespace()
            guard out.updateValue(try string(), forKey: k) == nil else { throw GiveUp() }
            skipWhitespace()
            if peek() == 0x2C { i += 1; continue }
            try expect(0x7D)
            return out
        }
    }

    /// An object key, then the whitespace before its colon.
    private mutating func key() throws(GiveUp) -> String {
        let s = try string()
        skipWhitespace()
        return s
    }

    private mutating func string() throws(GiveUp) -> String {
        guard peek() == 0x22 else { throw GiveUp() }
        let r = try rawString()
        let bytes = UnsafeBufferPointer(rebasing: b[r])
        var ascii = true
        for c in bytes where c >= 0x80 { ascii = false; break }
        if ascii { return String(decoding: bytes, as: UTF8.self) }
        guard let s = String(validating: bytes, as: UTF8.self) else { throw GiveUp() }
        return s
    }

    /// The bytes between the quotes of a string without escapes or control characters; the cursor ends after it.
    private mutating func rawString() throws(GiveUp) -> Range<Int> {
        i += 1
        let start = i
        while i < b.count {
            let c = b[i]
            if c == 0x22 {
                i += 1
                return start..<(i - 1)
            }
            if c == 0x5C || c < 0x20 { throw GiveUp() }
            i += 1
        }
        throw GiveUp()
    }

    /// A plain non-negative integer (no sign, fraction, exponent or leading zero) within `range`.
    private mutating func integer(in range: ClosedRange<Int>) throws(GiveUp) -> Int {
        let start = i
        var value = 0
        while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
            value = value * 10 + Int(b[i] - 0x30)
            i += 1
            guard i - start <= 6 else { throw GiveUp() }
        }
        guard i > start, !(b[start] == 0x30 && i - start > 1), range.contains(value) else { throw GiveUp() }
        if i < b.count, b[i] == 0x2E || b[i] == 0x65 || b[i] == 0x45 { throw GiveUp() }  // . e E
        return value
    }

    private func peek() -> UInt8 { i < b.count ? b[i] : 0 }

    private mutating func expect(_ c: UInt8) throws(GiveUp) {
        guard i < b.count, b[i] == c else { throw GiveUp() }
        i += 1
    }

    private mutating func skipWhitespace() {
        while i < b.count {
            switch b[i] {
            case 0x20, 0x0A, 0x0D, 0x09: i += 1
            default: return
            }
        }
    }
}
