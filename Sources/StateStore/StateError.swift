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
