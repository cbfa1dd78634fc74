#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import FoundationEssentials

/// Sends sd_notify datagrams (`READY=1`, `STATUS=…`, `WATCHDOG=1`) to `$NOTIFY_SOCKET`, without libsystemd.
///
/// A no-op when the bridge is not started by systemd with `Type=notify`. A send never blocks: when systemd's
/// socket queue is full (systemd busy or wedged) the datagram is dropped and reported as `.dropped`.
public struct SystemdNotifier: Sendable {
    public let socketPath: String?
    /// Half of `WatchdogSec`, as systemd recommends, when a watchdog is configured.
    public let watchdogInterval: Duration?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        socketPath = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        if let usec = environment["WATCHDOG_USEC"].flatMap(Int64.init), usec > 0,
           environment["WATCHDOG_PID"].flatMap(Int32.init).map({ $0 == getpid() }) ?? true {
            watchdogInterval = .microseconds(usec / 2)
        } else {
            watchdogInterval = nil
        }
    }

    public var isEnabled: Bool { socketPath != nil }

    /// What became of one notification.
    public enum Delivery: Sendable, Equatable {
        case sent
        /// Not under systemd: nothing to send.
        case disabled
        /// Not sent: the socket's queue was full, or systemd's socket is gone or unusable.
        case dropped
    }

    /// Sends one datagram without blocking.
    @discardableResult
    public func notify(_ message: String) -> Delivery {
        guard let path = socketPath else { return .disabled }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return .dropped }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        // An '@' prefix names an abstract socket: its first byte is NUL.
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard bytes.count < capacity else { return .dropped }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes.first == 0 ? 0 : 1))
        let payload = Array(message.utf8)
        let sent = withUnsafePointer(to: &addr) { ptr in
            ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                payload.withUnsafeBytes { buf in
                    sendto(fd, buf.baseAddress, buf.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT), sa, length)
                }
            }
        }
        return sent == payload.count ? .sent : .dropped
    }
}
