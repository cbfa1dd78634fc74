import Basics
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// Reads and writes the state file: versioned JSON, written atomically (temp file, fsync, rename, fsync of the
/// folder) with mode 0600, so a crash at any moment leaves either the old or the new document.
public struct StateStore: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// The stored document, or nil when there is no state file yet; a damaged file is an error, never trusted.
    public func load() throws(StateError) -> StateDocument? {
        let data: Data
        switch FileBytes.read(path) {
        case .success(let bytes): data = Data(bytes)
        case .failure(let failure) where failure.isMissing: return nil
        case .failure(let failure): throw StateError.io(path: path, operation: "read", message: failure.text)
        }
        return try Self.decode(data, path: path)
    }

    /// Parses and validates a state document.
    public static func decode(_ data: Data, path: String) throws(StateError) -> StateDocument {
        let doc: StateDocument
        do {
            doc = try JSONDecoder().decode(StateDocument.self, from: data)
        } catch let error as DecodingError {
            throw StateError.malformed(path: path, message: Self.describe(error))
        } catch {
            throw StateError.malformed(path: path, message: "\(error)")
        }
        do {
            try doc.validate()
        } catch {
            if case .invalid(let where_, let message) = error {
                throw StateError.malformed(path: path, message: "\(where_): \(message)")
            }
            throw error
        }
        return doc
    }

    /// The JSON bytes written for `doc`: compact (10,000 slots take ~2 MB, not 3) with sorted keys, so unchanged
    /// tables give identical files; the very bytes `JSONEncoder` with `.sortedKeys` writes, by a writer that costs a
    /// fraction of it (`StateDocumentEncoder`). `discovery-bridge status` is the readable view.
    public static func encode(_ doc: StateDocument) throws(StateError) -> Data {
        var fresh = EncodingCache()
        return try encode(doc, cache: &fresh)
    }

    /// Writes `doc` atomically, creating the folder (0700) when missing.
    public func save(_ doc: StateDocument) throws(StateError) {
        var fresh = EncodingCache()
        try save(doc, cache: &fresh)
    }

    /// What `save(_:cache:)` keeps between writes: each backend's encoded table, reused while the table is unchanged.
    /// One writer at a time: keep it where the writes are serialised.
    public struct EncodingCache: Sendable {
        var fragments = StateDocumentEncoder.FragmentCache()
        public init() {}
    }

    /// `encode`, re-encoding only the backends whose table changed since the document `cache` last saw: a change to
    /// one backend of 500 costs that backend and a copy of the rest, not 10,000 slots spelled again.
    public static func encode(_ doc: StateDocument, cache: inout EncodingCache) throws(StateError) -> Data {
        do {
            return Data(try StateDocumentEncoder.encode(doc, cache: &cache.fragments))
        } catch {
            cache = EncodingCache()
            throw StateError.invalid(path: error.path, message: "cannot encode: \(error)")
        }
    }

    /// `save` with the encoding of unchanged tables reused from `cache` (the same bytes as `save` writes).
    public func save(_ doc: StateDocument, cache: inout EncodingCache) throws(StateError) {
        let data = try Self.encode(doc, cache: &cache)
        try AtomicFile.write(data, to: path, mode: 0o600)
    }

    /// Moves a damaged state file aside (`<path>.corrupt-<unix time>`) and returns the new name.
    public func quarantine() throws(StateError) -> String {
        let target = "\(path).corrupt-\(Int(Date().timeIntervalSince1970))"
        guard rename(path, target) == 0 else {
            throw StateError.io(path: path, operation: "rename to \(target)", message: String(cString: strerror(errno)))
        }
        return target
    }

    private static func describe(_ error: DecodingError) -> String {
        func pathText(_ codingPath: [any CodingKey]) -> String {
            var s = ""
            for key in codingPath {
                if let i = key.intValue { s += "[\(i)]" } else { s += s.isEmpty ? key.stringValue : ".\(key.stringValue)" }
            }
            return s.isEmpty ? "(top level)" : s
        }
        switch error {
        case .typeMismatch(let type, let ctx): return "\(pathText(ctx.codingPath)): expected \(type)"
        case .valueNotFound(let type, let ctx): return "\(pathText(ctx.codingPath)): missing \(type) value"
        case .keyNotFound(let key, let ctx): return "\(pathText(ctx.codingPath + [key])): missing"
        case .dataCorrupted(let ctx):
            let underlying = ctx.underlyingError.map { ": \($0)" } ?? ""
            return "\(pathText(ctx.codingPath)): \(ctx.debugDescription)\(underlying)"
        @unknown default: return "\(error)"
        }
    }
}
