import DiscoveryCore
import Foundation

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
        guard let data = FileManager.default.contents(atPath: path) else {
            let exists = FileManager.default.fileExists(atPath: path)
            return Report(path: path, current: false, line: "managed config \(path): \(exists ? "unreadable" : "missing") (write it with `discovery-bridge render`; the running bridge writes it after its next change)")
        }
        if String(decoding: data, as: UTF8.self) == expected {
            return Report(path: path, current: true, line: "managed config \(path): current (a reload keeps every slot)")
        }
        let age = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date).map { Date().timeIntervalSince($0) }
        return Report(path: path, current: false, line: "managed config \(path): BEHIND the slot table\(age.map { String(format: " (written %.0f s ago)", $0) } ?? ""): a reload now would start from older slots until the bridge re-applies them; see the bridge's log (\"managed HAProxy config not updated\")")
    }
}
