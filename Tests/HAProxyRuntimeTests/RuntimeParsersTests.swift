import HAProxyRuntime
import XCTest

final class RuntimeParsersTests: XCTestCase {
    let serversState = """
    1
    # be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
    2 web 1 slot1 1.2.3.4 2 4 7 1 0 1 0 2 6 0 0 0 - 80 - 0 0 - - 0
    2 web 2 slot2 127.0.0.1 0 5 1 1 0 1 0 0 14 0 0 0 - 9 - 0 0 - - 0
    2 web 4 slot9 ::1 0 1 1 1 0 1 0 0 2 0 0 0 - 9 - 0 0 - - 0
    """

    func test_servers_state_rows_are_read_by_column_name() throws {
        let rows = try RuntimeParsers.serversState(serversState)
        XCTAssertEqual(rows.count, 3)
        XCTAssertEqual(rows[0].backend, "web")
        XCTAssertEqual(rows[0].server, "slot1")
        XCTAssertEqual(rows[0].address, "1.2.3.4")
        XCTAssertEqual(rows[0].port, 80)
        XCTAssertEqual(rows[0].adminState, 4)
        XCTAssertEqual(rows[0].userWeight, 7)
        XCTAssertEqual(rows[0].operationalState, 2)
        XCTAssertNil(rows[0].fqdn)
        XCTAssertEqual(rows[2].address, "::1")
        XCTAssertEqual(rows[2].serverID, 4)
    }

    func test_servers_state_garbage_is_rejected_with_the_line() {
        XCTAssertThrowsError(try RuntimeParsers.serversState("")) { XCTAssertTrue("\($0)".contains("empty answer")) }
        XCTAssertThrowsError(try RuntimeParsers.serversState("No such backend.")) { XCTAssertTrue("\($0)".contains("format version 1")) }
        XCTAssertThrowsError(try RuntimeParsers.serversState("1\n2 web 1 slot1")) { XCTAssertTrue("\($0)".contains("header")) }
        let short = serversState.replacingOccurrences(of: "2 web 2 slot2 127.0.0.1 0 5 1 1 0 1 0 0 14 0 0 0 - 9 - 0 0 - - 0", with: "2 web 2 slot2")
        XCTAssertThrowsError(try RuntimeParsers.serversState(short)) { XCTAssertTrue("\($0)".contains("line 4"), "\($0)") }
        let badInt = serversState.replacingOccurrences(of: "2 web 1 slot1 1.2.3.4 2 4 7", with: "2 web 1 slot1 1.2.3.4 2 x 7")
        XCTAssertThrowsError(try RuntimeParsers.serversState(badInt)) { XCTAssertTrue("\($0)".contains("srv_admin_state"), "\($0)") }
    }

    func test_info_gives_pid_and_start_time() throws {
        let info = try RuntimeParsers.info("Name: HAProxy\nVersion: 2.6.12-1+deb12u4\nPid: 4502\nUptime_sec: 3\nStart_time_sec: 1795943678\n")
        XCTAssertEqual(info.pid, 4502)
        XCTAssertEqual(info.startTimeSec, 1795943678)
        XCTAssertEqual(info.uptimeSec, 3)
        XCTAssertEqual(info.version, "2.6.12-1+deb12u4")
        XCTAssertThrowsError(try RuntimeParsers.info("Name: HAProxy\n")) { XCTAssertTrue("\($0)".contains("Pid")) }
        XCTAssertThrowsError(try RuntimeParsers.info("Pid: abc\n")) { XCTAssertTrue("\($0)".contains("integer")) }
        XCTAssertThrowsError(try RuntimeParsers.info("garbage without colon\n")) { XCTAssertTrue("\($0)".contains("line 1")) }
    }

    func test_stat_sessions_reads_scur_per_server() throws {
        let csv = "# pxname,svname,qcur,qmax,scur,smax\nweb,slot1,0,0,3,5\nweb,slot2,0,0,0,1\nweb,BACKEND,0,0,3,5\n"
        XCTAssertEqual(try RuntimeParsers.statSessions(csv), ["slot1": 3, "slot2": 0])
        XCTAssertThrowsError(try RuntimeParsers.statSessions("Unknown command"))
        XCTAssertThrowsError(try RuntimeParsers.statSessions("# pxname,svname,qcur,qmax,scur\nweb,slot1,0,0,x\n")) { XCTAssertTrue("\($0)".contains("scur")) }
    }

    func test_answers_are_never_assumed_successful() {
        XCTAssertNil(RuntimeAnswer.classify(line: "set server web/slot1 state ready", answer: ""))
        XCTAssertNotNil(RuntimeAnswer.classify(line: "set server web/slot9 state ready", answer: "No such server."))
        XCTAssertNil(RuntimeAnswer.classify(line: "set server web/slot1 addr 1.2.3.4 port 80",
                                            answer: "IP changed from '127.0.0.1' to '1.2.3.4', port changed from '9' to '80' by 'stats socket command'"))
        XCTAssertNil(RuntimeAnswer.classify(line: "set server web/slot1 addr 1.2.3.4 port 81",
                                            answer: "no need to change the addr, port changed from '80' to '81' by 'stats socket command'"))
        XCTAssertEqual(RuntimeAnswer.classify(line: "set server web/slot1 addr x port 1", answer: "Invalid addr 'x' by 'stats socket command'"),
                       "Invalid addr 'x' by 'stats socket command'")
        XCTAssertNotNil(RuntimeAnswer.classify(line: "set weight web/slot1 300", answer: "Absolute weight can only be between 0 and 256 inclusive."))
        XCTAssertNil(RuntimeAnswer.classify(line: "add server web/slot11 127.0.0.1:9 check", answer: "New server registered."))
        XCTAssertNotNil(RuntimeAnswer.classify(line: "add server web/slot11 127.0.0.1:9 check", answer: ""))
        XCTAssertNotNil(RuntimeAnswer.classify(line: "add server web/slot11 127.0.0.1:9", answer: "Already exists a server with the same name in backend."))
        XCTAssertNotNil(RuntimeAnswer.classify(line: "frobnicate", answer: "Unknown command, but maybe one of the following ones is a better match:\n  help"))
        XCTAssertNotNil(RuntimeAnswer.classify(line: "show servers state nope", answer: "Can't find backend.\n"))
        XCTAssertNil(RuntimeAnswer.classify(line: "enable health web/slot11", answer: ""))
        XCTAssertNil(RuntimeAnswer.classify(line: "del server web/slot11", answer: "Server deleted."))
    }
}

/// The master CLI's `show proc` as 2.6.12 prints it.
final class MasterProcessParserTests: XCTestCase {
    func test_show_proc_gives_the_master_and_the_newest_worker_first() throws {
        let answer = """
        #<PID>          <type>          <reloads>       <uptime>        <version>
        14573           master          4 [failed: 0]   0d00h00m58s     2.6.12-1+deb12u4
        # workers
        17723           worker          0               0d00h00m11s     2.6.12-1+deb12u4
        17001           worker          1               0d00h00m30s     2.6.12-1+deb12u4
        # programs

        """
        let list = try XCTUnwrap(MasterProcessParser.parse(answer))
        XCTAssertEqual(list.masterPID, 14573)
        XCTAssertEqual(list.reloads, 4)
        XCTAssertEqual(list.newestWorker, 17723)
        XCTAssertNil(MasterProcessParser.parse("Unknown command.\n"))
    }
}
