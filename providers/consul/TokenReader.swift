import Basics
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Reads the ACL token, re-reading a token file when its modification time or size changes.
final class TokenReader: Sendable {
    private struct Cache { var stamp: String = ""; var token: String = "" }
    private let source: ConsulTokenSource
    private let cache = Mutex(Cache())
    private let logger: Logger

    init(_ source: ConsulTokenSource, logger: Logger) {
        self.source = source
        self.logger = logger
    }

    func current() -> String {
        switch source {
        case .none: return ""
        case .literal(let t): return t
        case .file(let path):
            var st = stat()
            let stamp = stat(path, &st) == 0 ? "\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)/\(st.st_size)" : "-1/-1"
            return cache.withLock { c in
                if c.stamp == stamp { return c.token }
                if case .success(let bytes) = FileBytes.read(path) {
                    c.token = String(decoding: bytes, as: UTF8.self).trimmingWhitespace()
                    c.stamp = stamp
                    logger.info("read Consul token file", metadata: ["file": "\(path)"])
                } else {
                    logger.warning("cannot read Consul token file; keeping the previous token", metadata: ["file": "\(path)"])
                }
                return c.token
            }
        }
    }
}
