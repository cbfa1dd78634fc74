import Foundation

/// A Python fake from `Tests/Fakes`, started on 127.0.0.1 with port 0; stopped by `stop()` (closing its stdin).
public final class FakeServer: @unchecked Sendable {
    let process = Process()
    let stdin = Pipe()
    let stdout = Pipe()
    public private(set) var port = 0
    /// Further ports the fake printed on its first line after the main one (the Consul fake's TLS mode: its control port).
    public private(set) var extraPorts: [Int] = []

    public static func fakesDirectory() -> URL {
        URL(fileURLWithPath: repositoryRoot).appendingPathComponent("Tests/Fakes")
    }

    public init(script: String, arguments: [String] = []) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.fakesDirectory().appendingPathComponent(script).path] + arguments
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        var line = Data()
        let handle = stdout.fileHandleForReading
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
        let fields = text.split(separator: " ", omittingEmptySubsequences: true)
        guard let p = fields.first.flatMap({ Int($0) }), !fields.dropFirst().contains(where: { Int($0) == nil }) else {
            stop()
            throw NSError(domain: "FakeServer", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(script) did not print a port: \(text)"])
        }
        port = p
        extraPorts = fields.dropFirst().compactMap { Int($0) }
    }

    public func stop() {
        try? stdin.fileHandleForWriting.close()
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }
}
