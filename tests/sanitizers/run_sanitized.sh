#!/usr/bin/env bash
# Builds the whole project with AddressSanitizer, LeakSanitizer and
# UndefinedBehaviorSanitizer (g++, -DENRICH_SANITIZE=ON, -O1 -g) in a build
# tree of its own and runs the unit and integration tests there. The
# integration tests start the enrich-cdc and enrich-processor of that tree
# (BinaryPath names the tree's own bin/), so the child processes run
# sanitized too.
#
#   tests/sanitizers/run_sanitized.sh [WORK_DIR] [CTEST_ARG...]
#
# WORK_DIR (default build/asan) is the sanitized build tree; it also gets the
# build log (build.log), the CTest log (ctest.log), every sanitizer report
# (sanitizer-reports/) and a summary of what ran (summary.txt, printed by
# tests/run.sh). CTEST_ARG narrow the run, e.g. -R '^pgoutput' or
# -L integration.
#
# Any report fails the run, whichever process wrote it; the process aborts
# (halt_on_error, abort_on_error; a leak found at exit too). ASan and LSan
# reports go to files sanitizer-reports/asan.<pid> (log_path), and the run
# fails when one exists after CTest, even when the test that started the
# process ignored its exit (a child killed or expected to fail); they are
# printed at the end. UBSan, a runtime of its own under g++, ignores log_path
# and writes to stderr: a test binary's report aborts it (CTest shows it), a
# child's lands in its log, which tests/support/child_process.cc checks,
# failing the test.
#
# Not run here, and why (each still runs in the plain build):
#   CdcResilienceTest.MillionRowTransactionInBoundedMemory  asserts the
#     RSS of enrich-cdc stays under 128 MB, which ASan's shadow memory and
#     quarantine break; the spill path it drives runs under ASan in
#     TransactionBufferTest (unit) and the other resilience tests.
#
# Environment: ENRICH_SANITIZE_JOBS  build parallelism (default 2)
#
# Exit status: 0 when every selected test passed and no process wrote a
# report; 1 otherwise (or on a build failure).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)

work=$root/build/asan
if (($#)) && [[ $1 != -* ]]; then
  work=$1
  shift
fi
mkdir -p "$work"
work=$(cd "$work" && pwd)
rm -f "$work/summary.txt"

excluded_cases=CdcResilienceTest.MillionRowTransactionInBoundedMemory

start=$SECONDS
if ! cmake -S "$root" -B "$work" -G Ninja -DENRICH_SANITIZE=ON \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-g -O1" \
  >"$work/build.log" 2>&1 ||
  ! cmake --build "$work" -- -j"${ENRICH_SANITIZE_JOBS:-2}" \
    >>"$work/build.log" 2>&1; then
  tail -n 100 "$work/build.log" >&2
  echo "run_sanitized: the sanitizer build failed (log: $work/build.log)" >&2
  exit 1
fi
build_seconds=$((SECONDS - start))
echo "run_sanitized: built with -fsanitize=address,undefined in ${build_seconds} s"

reports=$work/sanitizer-reports
rm -rf "$reports" "$work/test-results"
mkdir -p "$reports"
supp=$root/tests/sanitizers
# Inherited by every test binary and every child process it starts.
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=1:check_initialization_order=1:log_path=$reports/asan"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:suppressions=$supp/ubsan.supp"
# Integration binaries run every case but these; a unit test's own
# --gtest_filter (gtest_discover_tests) overrides this default.
export GTEST_FILTER="-${excluded_cases}"

start=$SECONDS
set +e
# The chaos entries (also labelled integration) are left out: they drive the
# same code as the integration tests, for minutes, and run in the plain tree.
ctest --test-dir "$work" -L '^(unit|integration)$' -LE '^chaos$' \
  --output-on-failure -j2 --timeout 1800 "$@" | tee "$work/ctest.log"
rc=${PIPESTATUS[0]}
set -e
test_seconds=$((SECONDS - start))

report_files=()
for f in "$reports"/*; do
  [[ -e $f ]] && report_files+=("$f")
done
for f in "${report_files[@]}"; do
  echo
  echo "=== sanitizer report $f"
  cat "$f"
done
((${#report_files[@]} == 0)) || rc=1

ran=$(grep -E "tests passed|tests failed|No tests were found" "$work/ctest.log" |
  tail -n 1 || true)
{
  echo "Sanitizers (ASan + LSan + UBSan, g++ -O1, $work): ${ran:-no CTest result}," \
    "${#report_files[@]} sanitizer reports; built in ${build_seconds} s," \
    "tested in ${test_seconds} s"
  echo "  unit: $(ctest --test-dir "$work" -N -L '^unit$' "$@" |
    grep -cE '^ *Test +#' || true) test cases (every unit test binary)"
  echo "  not run under sanitizers: ${excluded_cases}"
  bash "$root/tests/support/list_test_cases.sh" "$work/test-results"
  bash "$root/tests/support/failed_output.sh" "$work/ctest.log"
  ((rc == 0)) || echo "  FAILED (exit $rc; log: $work/ctest.log)"
} | tee "$work/summary.txt"
exit "$rc"
