#!/usr/bin/env python3
"""Prints `make test`'s last line, `N passed, N failed`, and exits non-zero when anything failed.

XCTest's parallel mode prints no total, so the counts come from the xUnit file `swift test --xunit-output` writes;
when that file is missing or unreadable (the test process crashed) they come from the test log's
"Test Case '...' passed/failed" lines, and a crash counts as one failure. Extra named checks (the release smoke
run) are counted too: `--check NAME=STATUS` (STATUS 0 is a pass).

usage: test-summary.py XUNIT.xml TEST-LOG TEST-EXIT-STATUS [--check NAME=STATUS ...]
"""
import re
import sys
import xml.etree.ElementTree as ET


def from_xunit(path):
    root = ET.parse(path).getroot()
    passed = failed = 0
    for case in root.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.find("skipped") is None:
            passed += 1
    return passed, failed


def from_log(path):
    try:
        text = open(path, encoding="utf-8", errors="replace").read()
    except OSError:
        return 0, 0
    # Serial mode: one "Test Case '...' passed|failed" line per test.
    serial = re.findall(r"^Test Case '[^']*' (passed|failed)", text, re.M)
    if serial:
        return serial.count("passed"), serial.count("failed")
    # Parallel mode: "[n/N] Testing Target.Class/test" per test, "error: Class.test : ..." per failed assertion.
    totals = [int(n) for n in re.findall(r"^\[\d+/(\d+)\] Testing ", text, re.M)]
    failed = len(set(re.findall(r"error: (\S+) : ", text)))
    total = max(totals) if totals else 0
    return max(0, total - failed), failed


def main(argv):
    if len(argv) < 4:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    xunit, log, status = argv[1], argv[2], int(argv[3])
    try:
        passed, failed = from_xunit(xunit)
        if passed + failed == 0:
            raise ValueError("no test cases")
    except (OSError, ET.ParseError, ValueError):
        passed, failed = from_log(log)
    if status != 0 and failed == 0:
        failed = 1  # the test process failed without reporting a failed case (a crash, a build error)
    rest = argv[4:]
    while rest:
        flag = rest.pop(0)
        if flag != "--check" or not rest or "=" not in rest[0]:
            print("test-summary.py: expected --check NAME=STATUS", file=sys.stderr)
            return 2
        _, check_status = rest.pop(0).rsplit("=", 1)
        if check_status == "0":
            passed += 1
        else:
            failed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
