import Basics
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization

/// Writes one logfmt line per event to stderr: `ts=… level=info msg="slot assigned" backend=web slot=slot3`.
///
/// Values with spaces, quotes or `=` are quoted, so every line stays machine-parseable (journald, Loki, grep).
public struct LogfmtHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public var metadataProvider: Logger.MetadataProvider?
    let label: String
    let timestamps: Bool
    private let output: @Sendable (String) -> Void

    /// - Parameters:
    ///   - timestamps: off under systemd (journald stamps lines itself), on elsewhere.
    ///   - output: where lines go; stderr by default.
    public init(label: String, timestamps: Bool = true, output: (@Sendable (String) -> Void)? = nil) {
        self.label = label
        self.timestamps = timestamps
        self.output = output ?? LogfmtHandler.stderrWriter
    }

    private static let stderrLock = Mutex(())
    private static let stderrWriter: @Sendable (String) -> Void = { line in
        stderrLock.withLock { _ in StandardError.write(line) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        var line = ""
        if timestamps {
            line += "ts=\(LogfmtHandler.timestamp()) "
        }
        line += "level=\(event.level.rawValue) msg=\(LogfmtHandler.quote(event.message.description))"
        for key in merged.keys.sorted() {
            line += " \(key)=\(LogfmtHandler.quote(LogfmtHandler.render(merged[key] ?? "")))"
        }
        output(line + "\n")
    }

    static func render(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let s): return s
        case .stringConvertible(let c): return c.description
        case .array(let a): return a.map { render($0) }.joined(separator: ",")
        case .dictionary(let d): return d.keys.sorted().map { "\($0):\(render(d[$0] ?? ""))" }.joined(separator: ",")
        }
    }

    static func quote(_ s: String) -> String {
        let needsQuotes = s.isEmpty || s.contains { $0 == " " || $0 == "\"" || $0 == "=" || $0 == "\\" || $0.isNewline || $0 == "\t" }
        guard needsQuotes else { return s }
        var out = "\""
        for ch in s {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default: out.append(ch)
            }
        }
        return out + "\""
    }

    static func timestamp() -> String {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        var tmValue = tm()
        var seconds = t.tv_sec
        gmtime_r(&seconds, &tmValue)
        let ms = t.tv_nsec / 1_000_000
        let date = "\((tmValue.tm_year + 1900).zeroPadded(4))-\((tmValue.tm_mon + 1).zeroPadded(2))-\(tmValue.tm_mday.zeroPadded(2))"
        return "\(date)T\(tmValue.tm_hour.zeroPadded(2)):\(tmValue.tm_min.zeroPadded(2)):\(tmValue.tm_sec.zeroPadded(2)).\(ms.zeroPadded(3))Z"
    }
}
