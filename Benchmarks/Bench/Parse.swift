import DiscoveryCore
import FileProvider
import Foundation
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Benchmark 9: reading the instances file (10,000 instances over 500 services): fresh with the fast path, with the
/// strict reader it falls back to (the parser before issue 14), and again after a rewrite that changed one service in
/// five (only changed bytes are parsed).
enum Parse {
    static let bench = "parse"

    static func run(_ options: Options, _ report: Report) async throws {
        let services = 500, perService = 20, changed = 100
        let rounds = options.quick ? 20 : 100
        func document(port: (Int) -> Int) -> [UInt8] {
            Array(instancesJSON((0..<services).map { s in
                ("svc\(s)", (0..<perService).map { (id: "i\($0)", address: syntheticAddress(s, $0), port: port(s), weight: nil as Int?) })
            }).utf8)
        }
        let base = document { _ in 8080 }
        // The mass change: 100 services (2,000 instances) move to a new port in one rewrite.
        let rewrite = document { $0 % (services / changed) == 0 ? 9090 : 8080 }
        print("  \(services * perService) instances over \(services) services, \(base.count / 1024) KiB; \(rounds) rounds each, median of the thread's CPU time")

        // Thread CPU time, not wall-clock: on a shared machine a descheduled thread would count someone else's work.
        func time(_ body: () throws -> Void) rethrows -> Double {
            let t = threadCPUms()
            try body()
            return threadCPUms() - t
        }
        var fast: [Double] = [], strict: [Double] = [], incremental: [Double] = [], same: [Double] = []
        for _ in 0..<rounds {
            fast.append(try time { _ = try InstancesFile.parse(base, file: "instances.json") })
            strict.append(try time { _ = try InstancesFile.parseStrict(base, file: "instances.json") })
            var reader = InstancesFileReader()
            _ = try reader.parse(base, file: "instances.json")
            var result: [String: [Instance]] = [:]
            incremental.append(try time { result = try reader.parse(rewrite, file: "instances.json") })
            guard reader.lastReused == services - changed, !reader.lastUsedStrictReader else {
                throw TestSupportError("the rewrite reused \(reader.lastReused) services (expected \(services - changed))")
            }
            guard result == (try InstancesFile.parseStrict(rewrite, file: "instances.json")) else {
                throw TestSupportError("the incremental parse differs from the strict reader")
            }
            same.append(try time { _ = try reader.parse(rewrite, file: "instances.json") })
        }
        let f = Summary(fast).median, s = Summary(strict).median
        report.atMost(bench, "parse \(services * perService) instances, fresh (fast path)", f, "ms", limit: 5, note: "was 24.6 ms")
        report.add(bench, "reference: strict reader, same file", s, "ms", note: String(format: "the parser before; fast path %.1fx faster", s / f))
        report.add(bench, "re-parse after a rewrite changing \(changed) services (\(changed * perService) instances)", Summary(incremental).median, "ms",
                   note: "\(services - changed) services' bytes unchanged, reused")
        report.add(bench, "re-parse of an unchanged file", Summary(same).median, "ms")
    }
}

/// CPU time of the calling thread in milliseconds.
func threadCPUms() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) * 1000 + Double(ts.tv_nsec) / 1e6
}
