import Foundation
import Logging
import Synchronization

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
            let attrs = try? FileManager.default.attributesOfItem(atPath: path)
            let stamp = "\((attrs?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? -1)/\((attrs?[.size] as? NSNumber)?.intValue ?? -1)"
            return cache.withLock { c in
                if c.stamp == stamp { return c.token }
                if let data = FileManager.default.contents(atPath: path) {
                    c.token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
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
