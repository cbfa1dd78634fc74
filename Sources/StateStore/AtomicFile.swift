import Basics
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

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
        let folder = FileBytes.folder(of: path)
        let dir = folder.isEmpty ? "." : folder
        if createFolder, !FileManager.default.fileExists(atPath: dir) {
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw StateError.io(path: path, operation: "create folder \(dir)", message: "\(error)")
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
