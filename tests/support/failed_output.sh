#!/usr/bin/env bash
# Prints the end of what each failed CTest entry wrote (ctest
# --output-on-failure puts it right after the entry's "***Failed" line),
# the last LINES lines each (default 60). tests/run.sh and
# tests/sanitizers/run_sanitized.sh end their output with it: the CI log
# shows its end whole but may cut its middle, where ctest printed the
# output, and a binary that crashed leaves no test-results XML for
# list_test_cases.sh to show. Prints nothing when no entry failed.
#
#   tests/support/failed_output.sh CTEST_LOG [LINES]
set -euo pipefail
log=$1
lines=${2:-60}
[[ -f $log ]] || exit 0
awk -v keep="$lines" '
  function flush() {
    if (name == "") return
    print "--- output of failed entry " name " (last " keep " lines at most)"
    start = n > keep ? n - keep + 1 : 1
    for (i = start; i <= n; i++) print "    " buf[i]
    name = ""; n = 0
  }
  /^ *[0-9]+\/[0-9]+ Test +#[0-9]+: / || /^ *Start +[0-9]+: / {
    flush()
    if ($0 ~ /\*\*\*(Failed|Exception|Timeout)|Failed +[0-9.]+ sec/) {
      name = $0; sub(/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: /, "", name)
      sub(/ \.+.*$/, "", name)
    }
    next
  }
  /^(Label Time Summary|Total Test time|[0-9]+% tests passed)/ { flush(); next }
  name != "" { buf[++n] = substr($0, 1, 300) }
  END { flush() }
' "$log"
