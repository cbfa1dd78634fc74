/// A `show servers state` answer taken as it arrives on a connection, handed over one backend at a time: a backend's
/// rows come together, so its servers are complete once the next backend's first row (or the answer's end) is in.
///
/// Shared by the live read on its own (`RuntimeConnection.readLive`) and the live read a streamed batch starts with
/// (`BatchStreamer`), which plans each backend as soon as it is complete.
struct ServersStateDump {
    private var reader = ServersStateReader()
    private var current: String?
    private var servers: [String: LiveServer] = [:]

    /// Takes every complete line `connection` has received; returns the backends completed by them, in answer
    /// order, and whether the answer has ended (its last backend is then among them).
    mutating func take(from connection: RuntimeConnection) throws(RuntimeError) -> (backends: [(name: String, servers: [String: LiveServer])], ended: Bool) {
        var complete: [(name: String, servers: [String: LiveServer])] = []
        let ended: Bool
        do {
            ended = try connection.takeLines { line throws(RuntimeParseError) in
                guard let row = try reader.read(line) else { return }
                if row.backend != current {
                    if let name = current { complete.append((name, servers)) }
                    current = row.backend
                    servers = [:]
                }
                servers[row.server] = LiveServer(row: row)
            }
            if ended { try reader.finish() }
        } catch {
            throw RuntimeError(kind: .unexpectedAnswer, message: error.description)
        }
        if ended, let name = current {
            complete.append((name, servers))
            current = nil
            servers = [:]
        }
        return (complete, ended)
    }
}
