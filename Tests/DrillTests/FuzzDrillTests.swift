import ConsulProvider
import DiscoveryCore
import EC2Provider
import FileProvider
import Foundation
import HAProxyRuntime
import Logging
import StateStore
import TestSupport
import XCTest

/// Drill 5: mutated inputs for every parser that reads the outside world. None may crash; each bad input is
/// rejected with an error that says what is wrong.
final class FuzzDrillTests: XCTestCase {
    static let tokens: [[UInt8]] = ["{", "}", "[", "]", "\"", ",", ":", "null", "true", "-1", "0", "1e999", "-9223372036854775809",
                                    "\\u0000", "\\ud800", "\n", "#", " ", "99999999999999999999", "\"\\", "ü", "\u{0}", "slot",
                                    "1\n# be_id", "web/slot1", "Pid: x", "\r\n"].map { Array($0.utf8) }

    /// One random mutation of `seed`: flip, delete, insert a token or random bytes, duplicate a range, or truncate.
    static func mutate(_ seed: [UInt8], rng: inout SplitMix64) -> [UInt8] {
        var b = seed
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            let n = b.count
            let i = n == 0 ? 0 : Int.random(in: 0..<n, using: &rng)
            switch Int.random(in: 0..<6, using: &rng) {
            case 0 where n > 0: b[i] = UInt8.random(in: 0...255, using: &rng)
            case 1 where n > 0: b.removeSubrange(i..<min(n, i + Int.random(in: 1...16, using: &rng)))
            case 2: b.insert(contentsOf: tokens[Int.random(in: 0..<tokens.count, using: &rng)], at: i)
            case 3: b.insert(contentsOf: (0..<Int.random(in: 1...8, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }, at: i)
            case 4 where n > 0: b.insert(contentsOf: b[i..<min(n, i + Int.random(in: 1...64, using: &rng))], at: i)
            default: b = Array(b.prefix(i))
            }
        }
        return b
    }

    /// Feeds `count` mutations of each seed to `parse`; returns (accepted, rejected).
    @discardableResult
    func fuzz(_ name: String, seeds: [String], count: Int, _ parse: ([UInt8]) -> String?) -> (Int, Int) {
        var (rng, seed) = SplitMix64.seeded()
        var accepted = 0, rejected = 0
        for k in 0..<count {
            let input = Self.mutate(Array(seeds[k % seeds.count].utf8), rng: &rng)
            if let error = parse(input) {
                rejected += 1
                if error.trimmingCharacters(in: .whitespaces).isEmpty {
                    XCTFail("\(name) seed \(seed): rejected input \(k) with an empty error")
                }
            } else {
                accepted += 1
            }
        }
        Drill.report("fuzz-\(name)", [("seed", "\(seed)"), ("inputs", "\(count)"), ("accepted", "\(accepted)"), ("rejected_with_error", "\(rejected)"), ("crashes", "0")])
        return (accepted, rejected)
    }

    var count: Int { Drill.scale(ci: 1500, full: 10000) }

    func test_drill_fuzz_consul_bodies() {
        let body = """
        [{"Node":{"Node":"n1","Address":"10.0.0.1","TaggedAddresses":{"lan":"10.0.0.1","wan":"1.2.3.4"},"Meta":{"rack":"a"}},
          "Service":{"ID":"web-1","Service":"web","Tags":["v2","weight=5"],"Address":"10.0.0.9","Port":8080,"Meta":{"haproxy_weight":"7"},
                     "Weights":{"Passing":10,"Warning":1},"TaggedAddresses":{"lan":{"Address":"10.0.0.9","Port":8080}}},
          "Checks":[{"CheckID":"serfHealth","Status":"passing","ServiceID":""},{"CheckID":"service:web-1","Status":"warning","ServiceID":"web-1"}]}]
        """
        let catalog = #"{"web":["v2","primary"],"api":[],"consul":[]}"#
        let (_, rejected) = fuzz("consul", seeds: [body, catalog], count: count) { bytes in
            do {
                let entries = try ConsulMapping.parseEntries(bytes)
                for e in entries { _ = ConsulMapping.instance(from: e, address: .service, service: "web") }
                _ = try? ConsulMapping.parseCatalog(bytes)
                _ = try? ConsulMapping.parseChecks(bytes)
                return nil
            } catch {
                return "\(error)"
            }
        }
        XCTAssertGreaterThan(rejected, count / 10)
    }

    func test_drill_fuzz_ec2_xml_bodies() {
        let describe = """
        <?xml version="1.0" encoding="UTF-8"?>
        <DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>abc</requestId>
          <reservationSet><item><reservationId>r-1</reservationId><instancesSet>
            <item><instanceId>i-0001</instanceId><instanceState><code>16</code><name>running</name></instanceState>
              <privateIpAddress>10.0.0.1</privateIpAddress><ipAddress>54.1.2.3</ipAddress>
              <networkInterfaceSet><item><attachment><deviceIndex>0</deviceIndex></attachment>
                <ipv6AddressesSet><item><ipv6Address>2001:db8::1</ipv6Address></item></ipv6AddressesSet></item></networkInterfaceSet>
              <tagSet><item><key>HAProxy:Service:Name</key><value>web</value></item>
                <item><key>Note</key><value>a &amp; b &#233;&#x263A;</value></item></tagSet></item>
          </instancesSet></item></reservationSet><nextToken>tok&amp;1</nextToken>
        </DescribeInstancesResponse>
        """
        let error = #"<?xml version="1.0"?><Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>x</RequestID></Response>"#
        let (_, rejected) = fuzz("ec2-xml", seeds: [describe, error], count: count) { bytes in
            _ = EC2XML.apiError(bytes)
            do {
                _ = try EC2XML.describeInstances(bytes)
                return nil
            } catch {
                return "\(error)"
            }
        }
        XCTAssertGreaterThan(rejected, count / 10)
    }

    func test_drill_fuzz_haproxy_answers() {
        let state = """
        1
        # be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
        2 web 1 slot1 1.2.3.4 2 4 7 1 0 1 0 2 6 0 0 0 - 80 - 0 0 - - 0
        2 web 2 slot2 127.0.0.1 0 5 1 1 0 1 0 0 14 0 0 0 - 9 - 0 0 - - 0
        """
        let info = "Name: HAProxy\nVersion: 2.6.12\nPid: 4502\nUptime_sec: 3\nStart_time_sec: 1795943678\n"
        let stat = "# pxname,svname,qcur,qmax,scur,smax\nweb,slot1,0,0,3,5\nweb,BACKEND,0,0,3,5\n"
        fuzz("haproxy-answers", seeds: [state, info, stat], count: count * 3) { bytes in
            let text = String(decoding: bytes, as: UTF8.self)
            var errors: [String] = []
            do { _ = try RuntimeParsers.serversState(text) } catch { errors.append("\(error)") }
            do { _ = try RuntimeParsers.info(text) } catch { errors.append("\(error)") }
            do { _ = try RuntimeParsers.statSessions(text) } catch { errors.append("\(error)") }
            _ = RuntimeAnswer.classify(line: "set server web/slot1 addr 1.2.3.4 port 80", answer: text)
            return errors.count == 3 ? errors.joined(separator: "; ") : nil
        }
    }

    func test_drill_fuzz_config_files() throws {
        let sample = try String(contentsOfFile: "\(repositoryRoot)/config.sample.json", encoding: .utf8)
        let loader = ConfigLoader(factories: [FileProviderFactory(), ConsulProviderFactory(), EC2ProviderFactory()], environment: [:], logger: Logger(label: "fuzz"))
        let (accepted, rejected) = fuzz("config", seeds: [sample], count: count) { bytes in
            do {
                _ = try loader.load(bytes: bytes, configDirectory: "/tmp", path: "fuzz.json")
                return nil
            } catch {
                return "\(error)"
            }
        }
        XCTAssertGreaterThan(rejected, count / 2)
        XCTAssertGreaterThan(accepted, 0, "some mutations stay valid; none accepted means the seed itself is rejected")
    }

    func test_drill_fuzz_state_files() throws {
        let slots = (1...6).map { n in
            Slot(server: "slot\(n)", number: n, dynamic: n > 4, state: n % 3 == 0 ? .free : (n % 3 == 1 ? .active : .draining),
                 instanceID: n % 3 == 0 ? nil : "consul/i\(n)", address: n % 3 == 0 ? nil : "10.0.0.\(n)", port: n % 3 == 0 ? nil : 80,
                 weight: n, since: 1000, drainDeadline: n % 3 == 2 ? 1030 : nil)
        }
        let doc = StateDocument(writtenAt: 1, haproxy: HAProxyIdentity(pid: 4, startTimeSec: 5), backends: ["web": BackendSlots(backend: "web", slots: slots)])
        let seed = String(decoding: try StateStore.encode(doc), as: UTF8.self)
        fuzz("state", seeds: [seed], count: count) { bytes in
            do {
                _ = try StateStore.decode(Data(bytes), path: "state.json")
                return nil
            } catch {
                return "\(error)"
            }
        }
    }

    func test_drill_fuzz_instances_files() {
        let seed = #"{"services": {"web": [{"id": "web-1", "address": "10.0.0.1", "port": 8080, "weight": 100, "health": "passing", "tags": ["v2"], "meta": {"a": "b"}}, {"id": "web-2", "address": "::1"}]}}"#
        fuzz("instances-file", seeds: [seed], count: count) { bytes in
            do {
                _ = try InstancesFile.parse(bytes, file: "instances.json")
                return nil
            } catch {
                return "\(error)"
            }
        }
    }
}
