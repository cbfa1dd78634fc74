import DiscoveryCore

/// The bridge's memory on disk: every backend's slot table and the HAProxy it was applied to.
public struct StateDocument: Sendable, Hashable, Codable {
    /// The format version this build writes and reads.
    public static let currentVersion = 1

    public var version: Int
    /// Unix time of the write.
    public var writtenAt: Double
    public var haproxy: HAProxyIdentity?
    /// Slot tables by backend name.
    public var backends: [String: BackendSlots]
    /// Destructive changes the guard is holding, by backend (informational: shown by `status`).
    public var guardHolds: [String: GuardHold]

    public init(
        version: Int = StateDocument.currentVersion, writtenAt: Double, haproxy: HAProxyIdentity?, backends: [String: BackendSlots],
        guardHolds: [String: GuardHold] = [:]
    ) {
        self.version = version
        self.writtenAt = writtenAt
        self.haproxy = haproxy
        self.backends = backends
        self.guardHolds = guardHolds
    }

    enum CodingKeys: String, CodingKey {
        case version
        case writtenAt = "written_at"
        case haproxy
        case backends
        case guardHolds = "guard_holds"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        version = try c.decode(Int.self, forKey: .version)
        writtenAt = try c.decode(Double.self, forKey: .writtenAt)
        haproxy = try c.decodeIfPresent(HAProxyIdentity.self, forKey: .haproxy)
        backends = try c.decode([String: BackendSlots].self, forKey: .backends)
        guardHolds = try c.decodeIfPresent([String: GuardHold].self, forKey: .guardHolds) ?? [:]
    }

    /// Checks what decoding cannot: matching names, unique slots, complete active slots.
    public func validate() throws(StateError) {
        guard version == Self.currentVersion else {
            throw StateError.invalid(path: "version", message: "expected \(Self.currentVersion), got \(version) (written by another version of discovery-bridge?)")
        }
        for (name, table) in backends {
            guard table.backend == name else {
                throw StateError.invalid(path: "backends.\(name).backend", message: "names backend \"\(table.backend)\"")
            }
            var numbers = Set<Int>()
            var servers = Set<String>()
            var instances = Set<String>()
            for (i, slot) in table.slots.enumerated() {
                let path = "backends.\(name).slots[\(i)]"
                guard slot.number > 0, numbers.insert(slot.number).inserted else {
                    throw StateError.invalid(path: "\(path).number", message: "slot number \(slot.number) is not positive or appears twice")
                }
                guard !slot.server.isEmpty, servers.insert(slot.server).inserted else {
                    throw StateError.invalid(path: "\(path).server", message: "server \"\(slot.server)\" is empty or appears twice")
                }
                guard (0...256).contains(slot.weight) else {
                    throw StateError.invalid(path: "\(path).weight", message: "expected 0...256, got \(slot.weight)")
                }
                if slot.state != .free {
                    guard let address = slot.address, AddressLiteral.isValid(address), let port = slot.port, (1...65535).contains(port) else {
                        throw StateError.invalid(path: path, message: "\(slot.state.rawValue) slot without a valid address and port")
                    }
                    if let id = slot.instanceID, slot.state == .active, !instances.insert(id).inserted {
                        throw StateError.invalid(path: "\(path).instanceID", message: "instance \(id) holds two slots")
                    }
                }
            }
        }
    }
}
