#!/usr/bin/env python3
"""Sums the Check summaries of a `meson test` run into one, for tools/test.

    sum_suites.py BUILDDIR/meson-logs/testlog.json

meson runs one test per Check suite (tests/meson.build); CI reads Check's
summary line, so this prints the suites' SKIP lines and then, last, one line
in Check's own format, "P%: Checks: N, Failures: F, Errors: E", the sums over
every suite's own summary line. A test outside meson's suite "checks" (the include
checks, the scenario library) counts as one check, failed or not. A suite that printed no summary
(it crashed, or timed out), or that failed although its summary says it
passed (a leak found at exit), counts as an error of its own. Exits 1 unless every
test passed and every suite printed its summary.
"""

import json
import re
import sys

SUMMARY = re.compile(r"^(\d+)%: Checks: (\d+), Failures: (\d+), Errors: (\d+)$")
SKIP_SUMMARY = re.compile(r"^SKIP summary: (\d+) tests not run: (.*)$")


def percent_passed(checks, failures, errors):
    """As Check computes it (check_str.c), so the line reads the same."""
    if failures == 0 and errors == 0:
        return 100
    if checks == 0:
        return 0
    return int((checks - failures - errors) / checks * 100)


def main(argv):
    if len(argv) != 2:
        print("usage: sum_suites.py TESTLOG.json", file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        results = [json.loads(line) for line in f if line.strip()]
    checks = failures = errors = 0
    skips, skipped, where, bad = [], 0, set(), []
    for r in results:
        out = (r.get("stdout") or "") + "\n" + (r.get("stderr") or "")
        lines = out.splitlines()
        if ":checks / " not in r["name"]:
            checks += 1
            if r["result"] != "OK":
                failures += 1
                bad.append("%s: %s" % (r["name"], r["result"]))
            continue
        sums = [SUMMARY.match(l) for l in lines]
        sums = [m for m in sums if m]
        if len(sums) != 1:
            errors += 1
            bad.append("%s: %s, %d Check summary lines" % (r["name"], r["result"], len(sums)))
        else:
            checks += int(sums[0].group(2))
            failures += int(sums[0].group(3))
            errors += int(sums[0].group(4))
            if r["result"] != "OK":
                bad.append("%s: %s" % (r["name"], r["result"]))
                if sums[0].group(3) == "0" and sums[0].group(4) == "0":
                    errors += 1  # passed its checks, failed after (a leak, a timeout)
        for l in lines:
            m = SKIP_SUMMARY.match(l)
            if m:
                skipped += int(m.group(1))
                where.add(m.group(2))
            elif l.startswith("SKIP: "):
                skips.append(l)
    for l in skips:
        print(l)
    if skipped:
        print("SKIP summary: %d tests not run: %s" % (skipped, "; ".join(sorted(where))))
    for b in bad:
        print("FAILED: " + b)
    if not results:
        errors += 1
        print("FAILED: no test ran")
    print("%d%%: Checks: %d, Failures: %d, Errors: %d"
          % (percent_passed(checks, failures, errors), checks, failures, errors))
    return 1 if bad or failures or errors or not results else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
