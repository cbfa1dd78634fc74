import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// HAProxy's master CLI (`haproxy -W -S <socket>`): lists the workers, and tells of a reload without any polling.
///
/// Measured on 2.6.12: the master closes every master-CLI connection the moment it starts a reload (SIGUSR2 or the
/// CLI's `reload`), 1–3 ms after the signal, because it re-executes itself; it also goes away when HAProxy stops. So
/// one idle connection is a reload detector that costs nothing while nothing happens. `show proc` in prompt mode
/// answers at once, ending with the `master> ` prompt (without prompt mode 2.6 answers only after a half-close).
public final class MasterCLI: Sendable {
    public let endpoint: RuntimeEndpoint
    public let timeout: Duration
    private let queue = DispatchQueue(label: "discovery-bridge.master-cli", attributes: .concurrent)

    public init(endpoint: RuntimeEndpoint, timeout: Duration = .seconds(2)) {
        self.endpoint = endpoint
        self.timeout = timeout
    }

    /// Connects and reads `show proc`; the session's `waitForClose()` then returns when the master closes the
    /// connection (a reload, a stop, an idle timeout) or the waiting task is cancelled.
    public func connect() async throws(RuntimeError) -> MasterSession {
        let result: Result<MasterSession, RuntimeError> = await withCheckedContinuation { continuation in
            queue.async { [endpoint, timeout] in
                do throws(RuntimeError) {
                    let connection = try MasterConnection(endpoint: endpoint, timeout: timeout)
                    // On failure the connection is closed by its deinit.
                    let list = try connection.showProc()
                    continuation.resume(returning: .success(try MasterSession(connection: connection, list: list)))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }
}

/// An open master-CLI connection and the process list read when it opened.
public final class MasterSession: @unchecked Sendable {
    public let list: MasterProcessList
    private let connection: MasterConnection
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let queue = DispatchQueue(label: "discovery-bridge.master-cli.wait")

    init(connection: MasterConnection, list: MasterProcessList) throws(RuntimeError) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw RuntimeError(kind: .io, message: "pipe: \(String(cString: strerror(errno)))") }
        self.connection = connection
        self.list = list
        wakeRead = fds[0]
        wakeWrite = fds[1]
    }

    deinit {
        connection.close()
        Glibc.close(wakeRead)
        Glibc.close(wakeWrite)
    }

    /// Returns when the master closes the connection or the calling task is cancelled; costs nothing meanwhile.
    public func waitForClose() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                queue.async { [self] in
                    connection.waitForClose(orReadable: wakeRead)
                    continuation.resume()
                }
            }
        } onCancel: {
            var byte: UInt8 = 1
            _ = Glibc.write(wakeWrite, &byte, 1)
        }
    }
}

/// The processes `show proc` lists.
public struct MasterProcessList: Sendable, Hashable {
    public var masterPID: Int
    /// Reloads the master has done since it started.
    public var reloads: Int
    /// Current workers (pid, reloads survived), the newest first.
    public var workers: [(pid: Int, reloads: Int)]

    public static func == (a: Self, b: Self) -> Bool {
        a.masterPID == b.masterPID && a.reloads == b.reloads && a.workers.map(\.pid) == b.workers.map(\.pid)
    }

    public func hash(into h: inout Hasher) {
        h.combine(masterPID)
        h.combine(workers.map(\.pid))
    }

    /// The worker started by the last reload: the one that owns the stats socket once it is up.
    public var newestWorker: Int? { workers.first?.pid }
}
