#!/usr/bin/env bash
# Lists every test case an integration binary ran, from the GoogleTest XML
# files in RESULTS_DIR (<build>/test-results, tests/CMakeLists.txt), one line
# each: "  <binary>: <Suite>.<Test> passed|FAILED (<seconds>s)". Prints
# nothing when there are no results. Used by tests/run.sh and
# tests/sanitizers/run_sanitized.sh.
#
#   tests/support/list_test_cases.sh RESULTS_DIR
set -euo pipefail
results=$1
compgen -G "$results/*.xml" >/dev/null || exit 0
for xml in "$results"/*.xml; do
  suite=$(basename "$xml" .xml)
  # One <testcase .../> per test; one left open holds a <failure>.
  grep -o '<testcase [^>]*>' "$xml" | while read -r line; do
    attr() { sed -n "s/.* $1=\"\([^\"]*\)\".*/\1/p" <<<"$line"; }
    verdict=passed
    [[ "$line" == */\> ]] || verdict=FAILED
    echo "  $suite: $(attr classname).$(attr name) $verdict ($(attr time)s)"
  done
done
