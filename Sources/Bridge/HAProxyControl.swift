import DiscoveryCore
import HAProxyRuntime

/// What the reconciler needs from HAProxy; `RuntimeClient` is the real one, tests may supply another.
public protocol HAProxyControl: Sendable {
    func execute(_ lines: [String]) async throws(RuntimeError) -> [CommandOutcome]
    func raw(_ lines: [String]) async throws(RuntimeError) -> [String]
    /// Like `raw`, over a new connection: reaches the process that owns the socket now (after a reload).
    func probe(_ lines: [String]) async throws(RuntimeError) -> [String]
    func close()
}

extension RuntimeClient: HAProxyControl {}

extension RuntimeEndpoint {
    /// The runtime endpoint for a configured `haproxy.runtime_api`.
    public init(_ address: RuntimeAPIAddress) {
        switch address {
        case .unix(let path): self = .unix(path: path)
        case .tcp(let host, let port): self = .tcp(host: host, port: port)
        }
    }
}

/// HAProxy's live view of the configured backends, read in one round trip.
public struct LiveState: Sendable {
    public var info: HAProxyInfo
    /// Servers by backend, then by server name.
    public var backends: [String: [String: LiveServer]]

    public init(info: HAProxyInfo, backends: [String: [String: LiveServer]]) {
        self.info = info
        self.backends = backends
    }
}

extension HAProxyControl {
    /// Reads `show info` and `show servers state` in one round trip.
    public func readLiveState() async throws(BridgeError) -> LiveState {
        let answers: [String]
        do {
            answers = try await raw(["show info", "show servers state"])
        } catch {
            throw BridgeError.haproxy(error.description)
        }
        guard answers.count == 2 else { throw BridgeError.haproxy("expected 2 answers, got \(answers.count)") }
        let info: HAProxyInfo
        let rows: [ServerStateRow]
        do {
            info = try RuntimeParsers.info(answers[0])
            rows = try RuntimeParsers.serversState(answers[1])
        } catch {
            throw BridgeError.haproxyAnswer("\(error)")
        }
        var backends: [String: [String: LiveServer]] = [:]
        for row in rows {
            backends[row.backend, default: [:]][row.server] = LiveServer(
                name: row.server, address: row.address, port: row.port,
                admin: AdminState.fromAdminBits(row.adminState), weight: row.userWeight
            )
        }
        return LiveState(info: info, backends: backends)
    }

    /// Current sessions per server for each backend, in one round trip.
    public func readSessions(backends: [String]) async throws(BridgeError) -> [String: [String: Int]] {
        guard !backends.isEmpty else { return [:] }
        let answers: [String]
        do {
            answers = try await raw(backends.map { "show stat \($0) 4 -1" })
        } catch {
            throw BridgeError.haproxy(error.description)
        }
        var result: [String: [String: Int]] = [:]
        for (backend, answer) in zip(backends, answers) {
            do {
                result[backend] = try RuntimeParsers.statSessions(answer)
            } catch {
                throw BridgeError.haproxyAnswer("show stat \(backend): \(error)")
            }
        }
        return result
    }
}

/// Failures of the bridge itself, carrying what failed and where.
public enum BridgeError: Error, Sendable, CustomStringConvertible {
    /// HAProxy could not be reached or the connection failed.
    case haproxy(String)
    /// HAProxy answered something we could not parse.
    case haproxyAnswer(String)
    case state(String)

    public var description: String {
        switch self {
        case .haproxy(let m): return "HAProxy runtime API: \(m)"
        case .haproxyAnswer(let m): return "unexpected HAProxy answer: \(m)"
        case .state(let m): return "state file: \(m)"
        }
    }
}
