#!/usr/bin/env python3
"""Summarise meson test logs of one or more build directories.

Counts every TAP test case of the Criterion suites (and each non-TAP test
as one case), prints a line per build and ends with the plain summary line
`tests: N passed, N failed, N skipped`. Exits 1 if anything failed or no
test ran.
"""
import json
import re
import sys

OK = re.compile(r"^ok\b(?!.*# SKIP)", re.M)
SKIP = re.compile(r"^(?:not )?ok\b.*# SKIP", re.M)
NOT_OK = re.compile(r"^not ok\b(?!.*# SKIP)", re.M)


def summarise(build):
    passed = failed = skipped = 0
    try:
        lines = open(f"{build}/meson-logs/testlog.json").read().splitlines()
    except OSError as e:
        print(f"{build}: no test log ({e.strerror})")
        return 0, 1, 0
    for line in lines:
        t = json.loads(line)
        out = t.get("stdout") or ""
        if "TAP version" in out:
            p, f, s = len(OK.findall(out)), len(NOT_OK.findall(out)), len(SKIP.findall(out))
            if t["result"] not in ("OK", "SKIP") and f == 0:
                f = 1  # crashed or timed out before reporting a failure
        elif t["result"] == "SKIP":
            p, f, s = 0, 0, 1
        else:
            p, f, s = (1, 0, 0) if t["result"] == "OK" else (0, 1, 0)
        passed, failed, skipped = passed + p, failed + f, skipped + s
        if f:
            print(f"{build}: FAILED {t['name']} ({t['result']})")
    print(f"{build}: {passed} passed, {failed} failed, {skipped} skipped")
    return passed, failed, skipped


def main(builds):
    total = [0, 0, 0]
    for b in builds:
        for i, n in enumerate(summarise(b)):
            total[i] += n
    print(f"tests: {total[0]} passed, {total[1]} failed, {total[2]} skipped")
    return 0 if total[1] == 0 and total[0] > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
