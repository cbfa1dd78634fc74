/// A configuration problem, naming the JSON path where it was found (`backends[0].slots: expected ...`).
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// JSON path such as `backends[0].sources[1].provider`; empty for the document itself.
    public var path: String
    public var message: String
    /// The file the error was found in, when known.
    public var file: String?

    public init(path: String, _ message: String, file: String? = nil) {
        self.path = path
        self.message = message
        self.file = file
    }

    public var description: String {
        let location = path.isEmpty ? "" : "\(path): "
        if let file { return "\(file): \(location)\(message)" }
        return "\(location)\(message)"
    }
}

/// Helpers to build JSON paths the way users read them.
public enum ConfigPath {
    public static func key(_ base: String, _ key: String) -> String {
        base.isEmpty ? key : "\(base).\(key)"
    }

    public static func index(_ base: String, _ i: Int) -> String {
        "\(base)[\(i)]"
    }
}

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

/// Durations written as text: `250ms`, `30s`, `5m`, `1h`, `1m30s`.
public enum DurationText {
    /// Parses a duration; returns nil for anything else (including negative values and bare numbers).
    public static func parse(_ text: String) -> Duration? {
        var rest = Substring(text.trimmingSpaces)
        guard !rest.isEmpty else { return nil }
        var total: Duration = .zero
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !digits.isEmpty, let value = Double(digits), value.isFinite, value >= 0 else { return nil }
            rest = rest.dropFirst(digits.count)
            let unit = rest.prefix { $0.isASCII && $0.isLetter }
            rest = rest.dropFirst(unit.count)
            let seconds: Double
            switch unit {
            case "ms": seconds = value / 1000
            case "s": seconds = value
            case "m": seconds = value * 60
            case "h": seconds = value * 3600
            default: return nil
            }
            guard seconds < 1e9 else { return nil }
            total += .milliseconds(Int64((seconds * 1000).rounded()))
        }
        return total
    }

    /// Formats a duration the way it is written in config (`1500ms`, `30s`, `5m`).
    public static func format(_ d: Duration) -> String {
        let ms = d.milliseconds
        if ms % 3_600_000 == 0, ms > 0 { return "\(ms / 3_600_000)h" }
        if ms % 60_000 == 0, ms > 0 { return "\(ms / 60_000)m" }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(ms)ms"
    }
}

extension Duration {
    /// Whole milliseconds, rounded toward zero.
    public var milliseconds: Int64 {
        let c = components
        return c.seconds * 1000 + c.attoseconds / 1_000_000_000_000_000
    }

    /// The duration in seconds as a Double.
    public var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
