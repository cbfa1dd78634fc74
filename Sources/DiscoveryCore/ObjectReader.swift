/// Reads one JSON object at a known path, tracking which keys were used so unknown keys are reported.
///
/// Every accessor throws a `ConfigError` naming the full path of the offending value.
public struct ObjectReader: Sendable {
    public let path: String
    public let values: [String: JSONValue]
    private var used: Set<String> = []

    public init(_ value: JSONValue, at path: String) throws(ConfigError) {
        guard case .object(let o) = value else {
            throw ConfigError(path: path, "expected an object, got \(value.shortDescription)")
        }
        self.path = path
        self.values = o
    }

    public func pathOf(_ key: String) -> String { ConfigPath.key(path, key) }

    public func has(_ key: String) -> Bool {
        if let v = values[key], v != .null { return true }
        return false
    }

    /// Returns the raw value of `key` (marking it used), or nil when absent or null.
    public mutating func raw(_ key: String) -> JSONValue? {
        used.insert(key)
        guard let v = values[key], v != .null else { return nil }
        return v
    }

    public mutating func require(_ key: String) throws(ConfigError) -> JSONValue {
        guard let v = raw(key) else { throw ConfigError(path: pathOf(key), "is required") }
        return v
    }

    public mutating func string(_ key: String) throws(ConfigError) -> String? {
        guard let v = raw(key) else { return nil }
        guard let s = v.stringValue else { throw ConfigError(path: pathOf(key), "expected a string, got \(v.shortDescription)") }
        return s
    }

    public mutating func requireString(_ key: String) throws(ConfigError) -> String {
        guard let s = try string(key) else { throw ConfigError(path: pathOf(key), "is required") }
        return s
    }

    public mutating func nonEmptyString(_ key: String) throws(ConfigError) -> String? {
        guard let s = try string(key) else { return nil }
        guard !s.isEmpty else { throw ConfigError(path: pathOf(key), "must not be empty") }
        return s
    }

    public mutating func bool(_ key: String) throws(ConfigError) -> Bool? {
        guard let v = raw(key) else { return nil }
        guard let b = v.boolValue else { throw ConfigError(path: pathOf(key), "expected true or false, got \(v.shortDescription)") }
        return b
    }

    public mutating func int(_ key: String, in range: ClosedRange<Int>? = nil, describe: String = "an integer") throws(ConfigError) -> Int? {
        guard let v = raw(key) else { return nil }
        guard let i = v.intValue, range.map({ $0.contains(i) }) ?? true else {
            throw ConfigError(path: pathOf(key), "expected \(describe), got \(v.shortDescription)")
        }
        return i
    }

    public mutating func positiveInt(_ key: String) throws(ConfigError) -> Int? {
        try int(key, in: 1...Int(Int32.max), describe: "a positive integer")
    }

    public mutating func double(_ key: String, in range: ClosedRange<Double>, describe: String) throws(ConfigError) -> Double? {
        guard let v = raw(key) else { return nil }
        guard let d = v.doubleValue, range.contains(d) else {
            throw ConfigError(path: pathOf(key), "expected \(describe), got \(v.shortDescription)")
        }
        return d
    }

    public mutating func duration(_ key: String) throws(ConfigError) -> Duration? {
        guard let v = raw(key) else { return nil }
        guard let s = v.stringValue else {
            throw ConfigError(path: pathOf(key), "expected a duration such as \"500ms\", \"30s\" or \"5m\", got \(v.shortDescription)")
        }
        guard let d = DurationText.parse(s) else {
            throw ConfigError(path: pathOf(key), "expected a duration such as \"500ms\", \"30s\" or \"5m\", got \(v.shortDescription)")
        }
        return d
    }

    public mutating func stringArray(_ key: String) throws(ConfigError) -> [String]? {
        guard let v = raw(key) else { return nil }
        guard let a = v.arrayValue else { throw ConfigError(path: pathOf(key), "expected an array of strings, got \(v.shortDescription)") }
        var out: [String] = []
        for (i, item) in a.enumerated() {
            guard let s = item.stringValue else {
                throw ConfigError(path: ConfigPath.index(pathOf(key), i), "expected a string, got \(item.shortDescription)")
            }
            out.append(s)
        }
        return out
    }

    public mutating func stringMap(_ key: String) throws(ConfigError) -> [String: String]? {
        guard let v = raw(key) else { return nil }
        guard let o = v.objectValue else { throw ConfigError(path: pathOf(key), "expected an object of strings, got \(v.shortDescription)") }
        var out: [String: String] = [:]
        for (k, item) in o {
            guard let s = item.stringValue else {
                throw ConfigError(path: ConfigPath.key(pathOf(key), k), "expected a string, got \(item.shortDescription)")
            }
            out[k] = s
        }
        return out
    }

    public mutating func object(_ key: String) throws(ConfigError) -> ObjectReader? {
        guard let v = raw(key) else { return nil }
        return try ObjectReader(v, at: pathOf(key))
    }

    public mutating func array(_ key: String) throws(ConfigError) -> [JSONValue]? {
        guard let v = raw(key) else { return nil }
        guard let a = v.arrayValue else { throw ConfigError(path: pathOf(key), "expected an array, got \(v.shortDescription)") }
        return a
    }

    /// Parses `key` as one of `choices`.
    public mutating func oneOf(_ key: String, _ choices: [String]) throws(ConfigError) -> String? {
        guard let v = raw(key) else { return nil }
        guard let s = v.stringValue, choices.contains(s) else {
            let list = choices.map { "\"\($0)\"" }.joined(separator: ", ")
            throw ConfigError(path: pathOf(key), "expected one of \(list), got \(v.shortDescription)")
        }
        return s
    }

    /// The keys present in the object that were never read.
    public var unusedKeys: [String] {
        values.keys.filter { !used.contains($0) }.sorted()
    }

    /// Throws for the first key that was never read: it is unknown (most often a typo).
    public func finish() throws(ConfigError) {
        if let key = unusedKeys.first {
            throw ConfigError(path: pathOf(key), "unknown key")
        }
    }
}
