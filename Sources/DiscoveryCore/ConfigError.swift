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
