extension StringProtocol {
    /// The text without leading and trailing whitespace (Unicode `isWhitespace`, so newlines and tabs too).
    ///
    /// The one trimming helper for config text, HAProxy answers, HTTP headers and XML text (no Foundation needed).
    public func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
