import HAProxyRuntime
import TestSupport
import XCTest

/// The two-connection order check shared by the batch and streaming tests: 40 backends of 10 slots on a two-thread
/// HAProxy, and per server five actions where each later one overrides an earlier one, so only in-order execution
/// ends at port 2xxx, weight 7, drained.
enum OrderedActions {
    static let backends = 40, slots = 10

    static func haproxy() async throws -> HAProxyInstance {
        try await HAProxyInstance(backends: (0..<backends).map { .init(name: "be\($0)", slots: slots) }, withFrontends: false, extraGlobal: "    nbthread 2")
    }

    /// Backend `b`'s actions, slot by slot.
    static func actions(backend b: Int) -> [SlotAction] {
        (1...slots).flatMap { n -> [SlotAction] in
            let server = "slot\(n)"
            return [.setAddress(backend: "be\(b)", server: server, address: "10.0.\(b).\(n)", port: 1000 + n),
                    .setState(backend: "be\(b)", server: server, state: .ready), .setWeight(backend: "be\(b)", server: server, weight: 7),
                    .setState(backend: "be\(b)", server: server, state: .drain),
                    .setAddress(backend: "be\(b)", server: server, address: "10.1.\(b).\(n)", port: 2000 + n)]
        }
    }

    /// Every server ended where only in-order execution leaves it.
    static func assertRanInOrder(_ rows: [ServerStateRow], file: StaticString = #filePath, line: UInt = #line) throws {
        for b in 0..<backends {
            for n in 1...slots {
                let row = try XCTUnwrap(rows.first { $0.backend == "be\(b)" && $0.server == "slot\(n)" }, file: file, line: line)
                XCTAssertEqual("\(row.address):\(row.port)", "10.1.\(b).\(n):\(2000 + n)", "be\(b)/slot\(n)", file: file, line: line)
                XCTAssertEqual(row.adminState & 0x08, 0x08, "be\(b)/slot\(n) ends drained", file: file, line: line)
                XCTAssertEqual(row.userWeight, 7, "be\(b)/slot\(n)", file: file, line: line)
            }
        }
    }
}
