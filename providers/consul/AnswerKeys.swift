/// Decodes an object's fields by name, case-insensitively (Consul's own decoder accepts `address` for `Address`).
struct AnswerKeys {
    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    let container: KeyedDecodingContainer<Key>

    init(_ decoder: any Decoder) throws {
        container = try decoder.container(keyedBy: Key.self)
    }

    /// The exact spelling first (Consul's own, so the common case costs one lookup), then any other case.
    func key(_ name: String) -> Key? {
        let exact = Key(stringValue: name)
        if container.contains(exact) { return exact }
        let lower = name.lowercased()
        return container.allKeys.first { $0.stringValue.lowercased() == lower }
    }

    /// The field as `T`; nil when absent, null or of another type (the mapping decides what a gap means).
    func lenient<T: Decodable>(_ type: T.Type, _ name: String) -> T? {
        guard let k = key(name) else { return nil }
        return (try? container.decodeIfPresent(T.self, forKey: k)) ?? nil
    }

    /// The field as `T`; absent or null is nil, a value of another type is an error naming the field.
    func strict<T: Decodable>(_ type: T.Type, _ name: String) throws -> T? {
        guard let k = key(name) else { return nil }
        return try container.decodeIfPresent(T.self, forKey: k)
    }

    /// The field exactly as sent, whatever its type (for values the mapping validates itself, such as a port).
    func raw(_ name: String) -> AnswerValue? { lenient(AnswerValue.self, name) }

    /// Every field named by the caller's keys (maps such as `Meta` or `TaggedAddresses`), as `T`, skipping others.
    static func map<T: Decodable>(_ decoder: any Decoder, of type: T.Type) -> [String: T] {
        guard let c = try? decoder.container(keyedBy: Key.self) else { return [:] }
        var out: [String: T] = [:]
        for k in c.allKeys {
            if let v = (try? c.decodeIfPresent(T.self, forKey: k)) ?? nil { out[k.stringValue] = v }
        }
        return out
    }
}

/// A JSON scalar kept as sent, so the mapping can say what was wrong with it ("port \"80\" is out of range").
enum AnswerValue: Decodable, Sendable, Hashable, CustomStringConvertible {
    case int(Int)
    case number(Double)
    case string(String)
    case bool(Bool)
    case other

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .other; return }
        if let i = try? c.decode(Int.self) { self = .int(i); return }
        if let d = try? c.decode(Double.self) { self = .number(d); return }
        if let s = try? c.decode(String.self) { self = .string(s); return }
        if let b = try? c.decode(Bool.self) { self = .bool(b); return }
        self = .other
    }

    var description: String {
        switch self {
        case .int(let i): return String(i)
        case .number(let d): return String(d)
        case .string(let s): return "\"\(s.prefix(40))\""
        case .bool(let b): return String(b)
        case .other: return "an object or array"
        }
    }
}
