/// A parsed XML element: local name (namespace prefix dropped), child elements and its own text.
///
/// The EC2 and STS Query APIs answer with element-only XML, so attributes are parsed but not kept.
public struct XMLElement: Sendable, Equatable {
    /// Element name without namespace prefix.
    public var name: String
    public var children: [XMLElement]
    /// Concatenated character data directly inside this element (entities decoded).
    public var text: String

    public init(name: String, children: [XMLElement] = [], text: String = "") {
        self.name = name
        self.children = children
        self.text = text
    }

    /// The first child element named `name`.
    public func child(_ name: String) -> XMLElement? {
        children.first { $0.name == name }
    }

    /// Children named `name`.
    public func children(_ name: String) -> [XMLElement] {
        children.filter { $0.name == name }
    }

    /// Follows a path of child names (`"instanceState", "name"`).
    public func at(_ path: String...) -> XMLElement? {
        var e: XMLElement? = self
        for p in path { e = e?.child(p) }
        return e
    }

    /// Trimmed text of the child at `path`, nil when absent or empty.
    public func value(_ path: String...) -> String? {
        var e: XMLElement? = self
        for p in path { e = e?.child(p) }
        guard let t = e?.text.trimmingWhitespace(), !t.isEmpty else { return nil }
        return t
    }

    /// The first descendant (depth-first, self included) named `name`.
    public func first(named name: String) -> XMLElement? {
        if self.name == name { return self }
        for c in children {
            if let f = c.first(named: name) { return f }
        }
        return nil
    }
}

/// Why an XML text could not be parsed, with the byte offset where it went wrong.
public struct XMLParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var offset: Int
    public var message: String
    public var description: String { "invalid XML at byte \(offset): \(message)" }
}

/// A small non-validating XML parser for AWS Query API answers.
///
/// Supports the declaration, processing instructions, comments, CDATA, attributes (skipped),
/// self-closing tags, the five predefined entities and numeric character references. DOCTYPE is refused.
public enum XMLTree {
    /// Parses a complete document and returns its root element.
    public static func parse(_ bytes: [UInt8], maxDepth: Int = 64) throws(XMLParseError) -> XMLElement {
        var p = MiniXMLParser(bytes: bytes, maxDepth: maxDepth)
        return try p.document()
    }

    /// Parses a complete document given as a string.
    public static func parse(_ text: String) throws(XMLParseError) -> XMLElement {
        try parse(Array(text.utf8))
    }
}

private struct MiniXMLParser {
    let bytes: [UInt8]
    let maxDepth: Int
    var i = 0

    init(bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { i = 3 }
    }

    func fail(_ message: String) -> XMLParseError { XMLParseError(offset: i, message: message) }

    mutating func document() throws(XMLParseError) -> XMLElement {
        try skipMisc()
        guard i < bytes.count else { throw fail(bytes.isEmpty ? "empty document" : "no root element") }
        guard bytes[i] == UInt8(ascii: "<") else { throw fail("expected '<' at the start of the document") }
        let root = try element(depth: 0)
        try skipMisc()
        guard i >= bytes.count else { throw fail("unexpected content after the root element") }
        return root
    }

    /// Skips whitespace, the declaration, processing instructions and comments outside the root.
    mutating func skipMisc() throws(XMLParseError) {
        while i < bytes.count {
            let b = bytes[i]
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { i += 1; continue }
            if starts("<?") { try skip(until: "?>"); continue }
            if starts("<!--") { try skip(until: "-->"); continue }
            if starts("<!") { throw fail("DOCTYPE and declarations are not supported") }
            return
        }
    }

    func starts(_ s: StaticString) -> Bool {
        let n = s.utf8CodeUnitCount
        guard i + n <= bytes.count else { return false }
        return s.withUTF8Buffer { buf in
            for k in 0..<n where bytes[i + k] != buf[k] { return false }
            return true
        }
    }

    mutating func skip(until end: StaticString) throws(XMLParseError) {
        let n = end.utf8CodeUnitCount
        while i + n <= bytes.count {
            if starts(end) { i += n; return }
            i += 1
        }
        throw fail("unterminated construct (missing \(end))")
    }

    static func isNameByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"),
             UInt8(ascii: "."), UInt8(ascii: ":"):
            return true
        default:
            return b >= 0x80
        }
    }

    mutating func name() throws(XMLParseError) -> String {
        let start = i
        while i < bytes.count, Self.isNameByte(bytes[i]) { i += 1 }
        guard i > start else { throw fail("expected a name") }
        return String(decoding: bytes[start..<i], as: UTF8.self)
    }

    mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    static func localName(_ qname: String) -> String {
        if let colon = qname.lastIndex(of: ":") { return String(qname[qname.index(after: colon)...]) }
        return qname
    }

    /// Parses one element starting at '<'.
    mutating func element(depth: Int) throws(XMLParseError) -> XMLElement {
        guard depth < maxDepth else { throw fail("nesting deeper than \(maxDepth) levels") }
        i += 1 // '<'
        let qname = try name()
        // Attributes.
        while true {
            skipSpace()
            guard i < bytes.count else { throw fail("unexpected end inside tag <\(qname)>") }
            if bytes[i] == UInt8(ascii: "/") {
                guard i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: ">") else { throw fail("expected '/>'") }
                i += 2
                return XMLElement(name: Self.localName(qname))
            }
            if bytes[i] == UInt8(ascii: ">") { i += 1; break }
            _ = try name()
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "=") else { throw fail("expected '=' after attribute name") }
            i += 1
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") || bytes[i] == UInt8(ascii: "'") else {
                throw fail("expected a quoted attribute value")
            }
            let quote = bytes[i]
            i += 1
            while i < bytes.count, bytes[i] != quote {
                if bytes[i] == UInt8(ascii: "<") { throw fail("'<' in attribute value") }
                i += 1
            }
            guard i < bytes.count else { throw fail("unterminated attribute value") }
            i += 1
        }
        // Content.
        var children: [XMLElement] = []
        var text: [UInt8] = []
        while true {
            guard i < bytes.count else { throw fail("unexpected end of input inside <\(qname)>") }
            let b = bytes[i]
            if b == UInt8(ascii: "<") {
                if starts("</") {
                    i += 2
                    let closing = try name()
                    guard closing == qname else { throw fail("closing tag </\(closing)> does not match <\(qname)>") }
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: ">") else { throw fail("expected '>' after </\(closing)") }
                    i += 1
                    break
                } else if starts("<!--") {
                    try skip(until: "-->")
                } else if starts("<![CDATA[") {
                    i += 9
                    let start = i
                    try skip(until: "]]>")
                    text.append(contentsOf: bytes[start..<(i - 3)])
                } else if starts("<?") {
                    try skip(until: "?>")
                } else if starts("<!") {
                    throw fail("declarations are not supported inside elements")
                } else {
                    children.append(try element(depth: depth + 1))
                }
            } else if b == UInt8(ascii: "&") {
                try entity(into: &text)
            } else {
                text.append(b)
                i += 1
            }
        }
        return XMLElement(name: Self.localName(qname), children: children, text: String(decoding: text, as: UTF8.self))
    }

    mutating func entity(into out: inout [UInt8]) throws(XMLParseError) {
        let start = i
        i += 1
        while i < bytes.count, bytes[i] != UInt8(ascii: ";") {
            guard i - start < 12 else { i = start; throw fail("unterminated entity reference") }
            i += 1
        }
        guard i < bytes.count else { i = start; throw fail("unterminated entity reference") }
        let ref = String(decoding: bytes[(start + 1)..<i], as: UTF8.self)
        i += 1
        switch ref {
        case "amp": out.append(UInt8(ascii: "&"))
        case "lt": out.append(UInt8(ascii: "<"))
        case "gt": out.append(UInt8(ascii: ">"))
        case "quot": out.append(UInt8(ascii: "\""))
        case "apos": out.append(UInt8(ascii: "'"))
        default:
            var value: UInt32?
            if ref.hasPrefix("#x") || ref.hasPrefix("#X") {
                value = UInt32(ref.dropFirst(2), radix: 16)
            } else if ref.hasPrefix("#") {
                value = UInt32(ref.dropFirst(), radix: 10)
            }
            guard let v = value, v != 0, let scalar = Unicode.Scalar(v) else {
                i = start
                throw fail("unknown entity &\(ref.prefix(10));")
            }
            out.append(contentsOf: Array(String(Character(scalar)).utf8))
        }
    }
}
