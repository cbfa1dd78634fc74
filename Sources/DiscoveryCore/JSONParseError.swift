/// Why a JSON text could not be parsed, with its position (1-based line and column).
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var message: String

    public var description: String { "line \(line) column \(column): \(message)" }
}
