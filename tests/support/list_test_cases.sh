#!/usr/bin/env bash
# Lists every test case an integration binary ran, from the GoogleTest XML
# files in RESULTS_DIR (<build>/test-results, tests/CMakeLists.txt), one line
# each: "  <binary>: <Suite>.<Test> passed|skipped|FAILED (<seconds>s)". A
# failed case is followed by its failure messages (up to 12 lines each,
# indented): this list ends the CI log, whose middle may be cut, so a
# failure stays diagnosable from the end alone. Prints nothing when there
# are no results. Used by tests/run.sh and tests/sanitizers/run_sanitized.sh.
#
#   tests/support/list_test_cases.sh RESULTS_DIR
set -euo pipefail
results=$1
compgen -G "$results/*.xml" >/dev/null || exit 0
python3 - "$results" <<'PY'
import glob
import os
import sys
import xml.etree.ElementTree as ET

MAX_LINES = 12
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.xml"))):
    binary = os.path.basename(path)[: -len(".xml")]
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        print(f"  {binary}: unreadable results ({e})")
        continue
    for case in root.iter("testcase"):
        failures = case.findall("failure")
        if failures:
            verdict = "FAILED"
        elif case.find("skipped") is not None or case.get("result") == "skipped":
            verdict = "skipped"
        else:
            verdict = "passed"
        print(f"  {binary}: {case.get('classname')}.{case.get('name')} "
              f"{verdict} ({case.get('time')}s)")
        for failure in failures:
            lines = (failure.get("message") or failure.text or "").splitlines()
            for line in lines[:MAX_LINES]:
                print(f"      {line[:300]}")
            if len(lines) > MAX_LINES:
                print(f"      ... {len(lines) - MAX_LINES} more lines")
PY
