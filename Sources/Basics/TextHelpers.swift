// Small text helpers every target shares, without Foundation: trimming, ASCII letters and digits, replacing,
// zero-padded numbers.

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

extension Unicode.Scalar {
    /// `A`–`Z`, `a`–`z` or `0`–`9`: the letters and digits of identifiers HAProxy and cookies accept.
    public var isASCIIAlphanumeric: Bool {
        (0x30...0x39).contains(value) || (0x41...0x5A).contains(value) || (0x61...0x7A).contains(value)
    }
}

extension String {
    /// Every occurrence of `target` replaced by `replacement`, left to right, without overlaps (no Foundation).
    public func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            out += rest[..<range.lowerBound]
            out += replacement
            rest = rest[range.upperBound...]
        }
        out += rest
        return out
    }
}

extension BinaryInteger {
    /// The decimal digits, left-padded with zeros to `width` (`7.zeroPadded(3)` is `007`).
    public func zeroPadded(_ width: Int) -> String {
        let digits = String(self.magnitude)
        let sign = self < 0 ? "-" : ""
        return sign + String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
