import Bridge
import DiscoveryCore
import Foundation
import HAProxyRuntime
import TestSupport
import XCTest

/// The managed file cannot be written (read-only folder, full disk) or fails the check: the bridge keeps serving
/// through the Runtime API, keeps the last good file, says so (log, metric, `status`) and recovers by itself.
final class ManagedConfigFaultTests: XCTestCase {
    var rig: ReloadRig?
    var mountPoint: TemporaryDirectory?

    override func tearDown() async throws {
        await rig?.cleanup()
        rig = nil
        if let m = mountPoint {
            _ = try? await runCommand("/bin/umount", ["-l", m.path])
            m.remove()
        }
    }

    /// A tmpfs of `size` for the managed file (the folder's faults are then real: EROFS, ENOSPC); skips without root.
    func mountTinyFolder(size: String) async throws -> String {
        let m = try TemporaryDirectory(prefix: "db-managed-mnt")
        let r = try await runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size),mode=0755", "tmpfs", m.path])
        guard r.status == 0 else {
            m.remove()
            throw XCTSkip("cannot mount a tmpfs here (needs root): \(r.stderr)")
        }
        mountPoint = m
        return m.path
    }

    /// Starts the bridge with two instances and waits until HAProxy and the file have them.
    func startServing(_ rig: ReloadRig) async throws -> [String: (port: Int, weight: Int)] {
        let p = rig.http.ports
        let instances: [String: (port: Int, weight: Int)] = ["a": (p[0], 1), "b": (p[1], 1)]
        try rig.write(instances)
        try rig.harness.start()
        try await rig.waitApplied(instances)
        try await rig.waitFileCurrent()
        return instances
    }

    /// The fault is on: a change still reaches HAProxy, the file stays as it was, and every report says so.
    func assertFaultReported(_ rig: ReloadRig, instances: inout [String: (port: Int, weight: Int)], lastGood: String, mentions: String) async throws {
        instances["c"] = (rig.http.ports[2], 7)
        try rig.write(instances)
        try await rig.waitApplied(instances)
        guard let writer = rig.harness.reconciler?.managedConfig else { return XCTFail("no managed config writer") }
        try await eventually("the writer to report the failure", timeout: .seconds(10)) { writer.status.failing }
        XCTAssertTrue(writer.status.lastError?.contains(mentions) ?? false, "error names the cause: \(writer.status.lastError ?? "-")")
        XCTAssertEqual(try String(contentsOfFile: rig.managedPath, encoding: .utf8), lastGood, "the last good file stays")
        let metrics = try XCTUnwrap(rig.harness.metrics)
        metrics.refreshManagedConfig(writer.status)
        let text = String(decoding: metrics.render(), as: UTF8.self)
        XCTAssertTrue(text.contains("discovery_bridge_managed_config_failing 1"), "metric: \(text.split(separator: "\n").filter { $0.contains("managed") })")
        XCTAssertGreaterThan(metrics.total(.managedConfigFailures), 0)
        let status = try await runCommand(bridgeExecutable, ["status", "--config", rig.harness.dir.file("config.json")])
        XCTAssertTrue(status.stdout.contains("BEHIND the slot table"), "status says the file is behind: \(status.stdout)")
    }

    func assertRecovers(_ rig: ReloadRig) async throws {
        // Backoff grows to at most a few seconds over a short fault.
        try await rig.waitFileCurrent(timeout: .seconds(40))
        let writer = rig.harness.reconciler?.managedConfig
        // The status is updated just after the rename that made the file current.
        try await eventually("the writer to report success", timeout: .seconds(5)) { writer?.status.failing == false }
        let status = try await runCommand(bridgeExecutable, ["status", "--config", rig.harness.dir.file("config.json")])
        XCTAssertTrue(status.stdout.contains("current (a reload keeps every slot)"), status.stdout)
    }

    func test_read_only_folder_keeps_the_last_good_file_and_recovers() async throws {
        let folder = try await mountTinyFolder(size: "1m")
        let rig = try await ReloadRig(slots: 4, backends: 3, managedDir: folder)
        self.rig = rig
        var instances = try await startServing(rig)
        let lastGood = try String(contentsOfFile: rig.managedPath, encoding: .utf8)
        let ro = try await runCommand("/bin/mount", ["-o", "remount,ro", folder])
        XCTAssertEqual(ro.status, 0, ro.stderr)
        try await assertFaultReported(rig, instances: &instances, lastGood: lastGood, mentions: "Read-only file system")
        _ = try await runCommand("/bin/mount", ["-o", "remount,rw", folder])
        try await assertRecovers(rig)
    }

    func test_full_disk_keeps_the_last_good_file_and_recovers() async throws {
        let folder = try await mountTinyFolder(size: "64k")
        let rig = try await ReloadRig(slots: 4, backends: 3, managedDir: folder)
        self.rig = rig
        var instances = try await startServing(rig)
        let lastGood = try String(contentsOfFile: rig.managedPath, encoding: .utf8)
        // Fill the file system: the next candidate cannot be written (ENOSPC).
        _ = try await runCommand("/bin/dd", ["if=/dev/zero", "of=\(folder)/filler", "bs=4k", "count=64"])
        try await assertFaultReported(rig, instances: &instances, lastGood: lastGood, mentions: "No space left on device")
        unlink("\(folder)/filler")
        try await assertRecovers(rig)
    }

    /// The operator broke haproxy.cfg: `haproxy -c` fails on every candidate, so none is installed until it is fixed.
    func test_failing_check_keeps_the_last_good_file_and_recovers() async throws {
        let rig = try await ReloadRig(slots: 4, backends: 3, check: true)
        self.rig = rig
        var instances = try await startServing(rig)
        let lastGood = try String(contentsOfFile: rig.managedPath, encoding: .utf8)
        let good = try String(contentsOfFile: rig.haproxy.configPath, encoding: .utf8)
        try (good + "\nfrontend broken\n    no-such-keyword here\n").write(toFile: rig.haproxy.configPath, atomically: true, encoding: .utf8)
        try await assertFaultReported(rig, instances: &instances, lastGood: lastGood, mentions: "check_command")
        try good.write(toFile: rig.haproxy.configPath, atomically: true, encoding: .utf8)
        try await assertRecovers(rig)
    }
}
