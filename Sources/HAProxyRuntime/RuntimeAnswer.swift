/// Decides whether an answer means success: HAProxy's answers carry no status code, so every command kind has
/// a known success text (often the empty answer) and everything else is an error.
public enum RuntimeAnswer {
    /// Returns nil when `answer` is a success for `line`, else the error text to report.
    public static func classify(line: String, answer: String) -> String? {
        let text = answer.trimmingWhitespace()
        // UTF-8 split of at most four words: this runs once per command, tens of thousands per cold sync.
        let words = line.utf8.split(separator: 0x20, maxSplits: 4, omittingEmptySubsequences: true)
        let verb = words.first.map { String(decoding: $0, as: UTF8.self) } ?? ""
        let object = words.count > 1 ? String(decoding: words[1], as: UTF8.self) : ""
        if text.hasPrefix("Unknown command") { return "unknown command" }
        switch (verb, object) {
        case ("set", "server"):
            if words.count > 3, words[3].elementsEqual("addr".utf8) {
                // "IP changed from ...", "no need to change the addr, port changed from ...", "no need to change the addr" (same).
                if text.isEmpty || text.hasPrefix("IP changed from") || text.hasPrefix("no need to change the addr") || text.hasPrefix("port changed from") {
                    return nil
                }
                return firstLine(text)
            }
            return text.isEmpty ? nil : firstLine(text)
        case ("set", "weight"), ("enable", _), ("disable", _), ("set", "maxconn"):
            return text.isEmpty ? nil : firstLine(text)
        case ("add", "server"):
            return text == "New server registered." ? nil : firstLine(text.isEmpty ? "empty answer to add server" : text)
        case ("del", "server"):
            return text == "Server deleted." ? nil : firstLine(text.isEmpty ? "empty answer to del server" : text)
        case ("show", _):
            for prefix in ["No such", "Can't find", "Permission denied", "Unknown", "Require"] where text.hasPrefix(prefix) {
                return firstLine(text)
            }
            return nil
        default:
            return text.isEmpty ? nil : firstLine(text)
        }
    }

    /// Whether `answer` comes from a worker an HAProxy reload replaced: in master-worker mode an open connection
    /// keeps talking to the old worker, which refuses every change with "Proxy is disabled.".
    public static func isStaleWorker(_ answer: String) -> Bool {
        answer.hasPrefix("Proxy is disabled")
    }

    /// Classifies the answer to a slot action sent as `line`.
    public static func status(line: String, answer: String) -> ActionResult.Status {
        guard let error = classify(line: line, answer: answer) else { return .applied }
        return isStaleWorker(answer) ? .staleWorker : .refused(error)
    }

    private static func firstLine(_ text: String) -> String {
        String(text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: true).first ?? Substring(text))
    }
}
