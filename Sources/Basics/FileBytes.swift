#if canImport(Glibc)
import Glibc
#endif

/// Whole-file reads with POSIX calls into one buffer (no Foundation, no second copy), and path helpers.
public enum FileBytes {
    /// Why a read failed, as the system says it (`no such file`, `Permission denied`, `is a directory`).
    public struct Failure: Error, CustomStringConvertible {
        public var text: String
        /// The `errno` behind it (0 when it is not a system error).
        public var code: Int32 = 0
        /// The file (or a folder on its path) does not exist.
        public var isMissing: Bool { code == ENOENT || code == ENOTDIR }
        public var description: String { text }
    }

    public static func read(_ path: String) -> Result<[UInt8], Failure> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(Failure(text: errno == ENOENT ? "no such file" : String(cString: strerror(errno)), code: errno)) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return .failure(Failure(text: String(cString: strerror(errno)), code: errno)) }
        guard st.st_mode & S_IFMT != S_IFDIR else { return .failure(Failure(text: "is a directory", code: EISDIR)) }
        // The size is a hint: a file still being written in place may grow or shrink while it is read.
        var bytes = [UInt8](repeating: 0, count: max(Int(st.st_size), 0) + 1)
        var count = 0
        while true {
            if count == bytes.count { bytes.append(contentsOf: repeatElement(0, count: max(bytes.count, 4096))) }
            let n = bytes.withUnsafeMutableBytes { raw in
                guard let base = raw.baseAddress else { return 0 }
                return Glibc.read(fd, base + count, raw.count - count)
            }
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(Failure(text: String(cString: strerror(errno)), code: errno))
            }
            if n == 0 { break }
            count += n
        }
        bytes.removeLast(bytes.count - count)
        return .success(bytes)
    }

    /// The folder part of a path (`/etc/db/i.json` → `/etc/db`, `i.json` → ``, `/i.json` → `/`).
    public static func folder(of path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: 0x2F) else { return "" }
        return slash == path.utf8.startIndex ? "/" : String(path[..<slash])
    }

    /// The last component of a path.
    public static func name(of path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: 0x2F) else { return path }
        return String(path[path.utf8.index(after: slash)...])
    }

    /// `name` relative to `folder` (an absolute `name` stays as it is).
    public static func join(_ folder: String, _ name: String) -> String {
        if name.hasPrefix("/") || folder.isEmpty { return name }
        return folder.hasSuffix("/") ? folder + name : folder + "/" + name
    }
}
