import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The built `discovery-bridge` executable, next to the test bundle.
public let bridgeExecutable: String = {
    let candidates = [
        URL(fileURLWithPath: CommandLine.arguments.first ?? "").deletingLastPathComponent().appendingPathComponent("discovery-bridge").path,
        "\(repositoryRoot)/.build/debug/discovery-bridge",
    ]
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[1]
}()

/// `discovery-bridge run` as a child process with its log in a file.
public final class BridgeProcess: @unchecked Sendable {
    public let child: ChildProcess
    public let logPath: String

    public init(config: String, logPath: String, environment: [String: String] = [:], logLevel: String = "debug") throws {
        self.logPath = logPath
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "NOTIFY_SOCKET")
        for (k, v) in environment { env[k] = v }
        child = try ChildProcess(name: "discovery-bridge", executable: bridgeExecutable,
                                 arguments: ["run", "--config", config, "--log-level", logLevel], environment: env, output: logPath)
    }

    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    public func stop() { child.stop() }
}

/// A datagram socket standing in for systemd's NOTIFY_SOCKET.
public final class NotifySocket: @unchecked Sendable {
    public let path: String
    private let fd: Int32
    public private(set) var messages: [(at: ContinuousClock.Instant, text: String)] = []

    public init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        let r = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard r == 0 else { throw TestSupportError("bind \(path) failed") }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK)
    }

    /// Reads every datagram waiting now.
    public func poll() -> [String] {
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            messages.append((.now, String(decoding: buf[0..<n], as: UTF8.self)))
        }
        return messages.map(\.text)
    }

    /// Sends datagrams to this socket (never reading them) until its queue is full, as when systemd stops reading;
    /// returns how many fit.
    public func fillQueue() throws -> Int {
        let sender = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard sender >= 0 else { throw TestSupportError("socket failed") }
        defer { Glibc.close(sender) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        let payload = Array("STATUS=filler".utf8)
        var sent = 0
        while sent < 1_000_000 {
            let n = withUnsafePointer(to: &addr) { ptr in
                ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    payload.withUnsafeBytes { sendto(sender, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT), sa, socklen_t(MemoryLayout<sockaddr_un>.size)) }
                }
            }
            if n < 0 {
                guard errno == EAGAIN || errno == EWOULDBLOCK else { throw TestSupportError("sendto: \(String(cString: strerror(errno)))") }
                return sent
            }
            sent += 1
        }
        throw TestSupportError("the notify socket never filled")
    }

    public func close() { Glibc.close(fd) }
}
