import Basics
import DiscoveryCore
#if canImport(Glibc)
import Glibc
#endif

/// What `status` says about the managed config file: whether the file on disk is what the slot table renders to.
///
/// `status` runs in its own process, so it cannot ask the daemon's writer; comparing the file with the table it
/// reads from the state file tells the same: a file behind the table means the last writes failed (or one is
/// being written right now), and the log and `discovery_bridge_managed_config_failing` say why.
public enum ManagedConfigStatus {
    public struct Report: Codable, Sendable {
        public var path: String
        public var current: Bool
        public var line: String
    }

    public static func check(_ config: BridgeConfig, tables: [String: BackendSlots]) -> Report? {
        guard let path = config.haproxy.managedConfig else { return nil }
        let expected = ManagedConfigRenderer.render(config, tables: tables)
        let bytes: [UInt8]
        switch FileBytes.read(path) {
        case .success(let read): bytes = read
        case .failure(let failure):
            return Report(path: path, current: false, line: "managed config \(path): \(failure.isMissing ? "missing" : "unreadable (\(failure.text))") (write it with `discovery-bridge render`; the running bridge writes it after its next change)")
        }
        if String(decoding: bytes, as: UTF8.self) == expected {
            return Report(path: path, current: true, line: "managed config \(path): current (a reload keeps every slot)")
        }
        var st = stat()
        let age = stat(path, &st) == 0 ? max(0, time(nil) - st.st_mtim.tv_sec) : nil
        return Report(path: path, current: false, line: "managed config \(path): BEHIND the slot table\(age.map { " (written \($0) s ago)" } ?? ""): a reload now would start from older slots until the bridge re-applies them; see the bridge's log (\"managed HAProxy config not updated\")")
    }
}
