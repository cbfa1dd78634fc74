import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Why the state file could not be read or written, naming the file and, for bad content, the place in it.
public enum StateError: Error, Sendable, CustomStringConvertible {
    case io(path: String, operation: String, message: String)
    case malformed(path: String, message: String)
    case invalid(path: String, message: String)

    public var description: String {
        switch self {
        case .io(let path, let op, let m): return "\(path): \(op): \(m)"
        case .malformed(let path, let m): return "\(path): not a valid state file: \(m)"
        case .invalid(let path, let m): return "\(path): \(m)"
        }
    }
}

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
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            if !FileManager.default.fileExists(atPath: path) { return nil }
            throw StateError.io(path: path, operation: "read", message: "\(error.localizedDescription)")
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
    /// tables give identical files. `discovery-bridge status` is the readable view.
    public static func encode(_ doc: StateDocument) throws(StateError) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            return try encoder.encode(doc)
        } catch {
            throw StateError.invalid(path: "state", message: "cannot encode: \(error)")
        }
    }

    /// Writes `doc` atomically, creating the folder (0700) when missing.
    public func save(_ doc: StateDocument) throws(StateError) {
        let data = try Self.encode(doc)
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
            let underlying = ctx.underlyingError.map { ": \($0.localizedDescription)" } ?? ""
            return "\(pathText(ctx.codingPath)): \(ctx.debugDescription)\(underlying)"
        @unknown default: return "\(error)"
        }
    }
}

/// Writes a file so readers see the old or the new content, never a mix: temp file in the same folder, fsync,
/// rename over the target, fsync of the folder.
public enum AtomicFile {
    /// Checks a complete candidate file (given its temporary path) before it replaces the target; throwing keeps the old file.
    public typealias Vetter = (String) throws(StateError) -> Void

    /// - Parameters:
    ///   - createFolder: create a missing folder (0700); when false a missing folder is an error, as for a file
    ///     another program must read from a folder set up for it.
    ///   - vet: run on the fsynced candidate before the rename.
    public static func write(_ data: Data, to path: String, mode: mode_t, createFolder: Bool = true, vet: Vetter? = nil) throws(StateError) {
        let dir = (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent
        var isDir: ObjCBool = false
        if createFolder, !FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) {
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw StateError.io(path: path, operation: "create folder \(dir)", message: error.localizedDescription)
            }
        }
        let tmp = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw StateError.io(path: path, operation: "create \(tmp)", message: String(cString: strerror(errno))) }
        var ok = false
        defer {
            if !ok { unlink(tmp) }
        }
        let writeError: String? = data.withUnsafeBytes { raw -> String? in
            var offset = 0
            while offset < raw.count {
                guard let base = raw.baseAddress else { return nil }
                let n = Glibc.write(fd, base.advanced(by: offset), raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return String(cString: strerror(errno))
                }
                offset += n
            }
            return nil
        }
        if let writeError {
            close(fd)
            throw StateError.io(path: path, operation: "write \(tmp)", message: writeError)
        }
        if fsync(fd) != 0 {
            let m = String(cString: strerror(errno))
            close(fd)
            throw StateError.io(path: path, operation: "fsync \(tmp)", message: m)
        }
        fchmod(fd, mode)
        if close(fd) != 0 {
            throw StateError.io(path: path, operation: "close \(tmp)", message: String(cString: strerror(errno)))
        }
        try vet?(tmp)
        guard rename(tmp, path) == 0 else {
            throw StateError.io(path: path, operation: "rename \(tmp)", message: String(cString: strerror(errno)))
        }
        ok = true
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }
}
