#!/usr/bin/env bash
# The test command (README, .ci/run): installs what is missing, builds, and
# runs every test through CTest: unit tests (no servers), integration tests
# (each binary starts its own real PostgreSQL and Kafka), a one-minute
# libFuzzer run of the pgoutput decoder and of the processor's reading of
# events (label fuzz, 30 s each), two bounded chaos runs (label chaos: a
# fixed and a fresh seed), the unit and integration tests again in an ASan +
# UBSan build of their own (label sanitize, tests/sanitizers/run_sanitized.sh),
# and the format check.
#
#   tests/run.sh                 everything
#   tests/run.sh -L unit         only a label (any ctest arguments pass through)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

"$root/deploy/install-deps.sh"

# The test binaries read the contract from ENRICH_CONTRACT_DIR, else from
# ../shared/contract beside the repo.
source "$root/deploy/lib/contract.sh"
ENRICH_CONTRACT_DIR=$(contract_dir "$root")
export ENRICH_CONTRACT_DIR

build=${ENRICH_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -- -j"$(nproc)"

rm -rf "$build/test-results" "$build/libfuzzer/summary.txt" \
  "$build/asan/summary.txt" "$build/chaos/summary.txt"
# The compose test on a Docker engine (label docker, about 10 minutes cold,
# started first so it overlaps the rest) runs unless told not to:
# ENRICH_DOCKER_TESTS=0 tests/run.sh skips it.
skip_docker=()
[[ "${ENRICH_DOCKER_TESTS:-1}" == 1 ]] || skip_docker=(-LE '^docker$')
set +e
ctest --test-dir "$build" --output-on-failure -j2 --timeout 2400 \
  "${skip_docker[@]}" "$@" | tee "$build/ctest.log"
rc=${PIPESTATUS[0]}
set -e

# Integration binaries are one CTest entry each; list the test cases they ran.
if compgen -G "$build/test-results/*.xml" >/dev/null; then
  echo
  echo "Integration test cases:"
  bash "$root/tests/support/list_test_cases.sh" "$build/test-results"
fi
# The libFuzzer entry (tests/fuzz) passes quietly; show how much each of its
# targets ran (one line each).
if [[ -f "$build/libfuzzer/summary.txt" ]]; then
  echo
  cat "$build/libfuzzer/summary.txt"
fi
# The chaos entries (tests/integration/chaos) pass quietly too; show their
# seeds, faults survived and rows compared (one line each).
if [[ -f "$build/chaos/summary.txt" ]]; then
  echo
  cat "$build/chaos/summary.txt"
fi
# The sanitize entry (tests/sanitizers) too: what ran under the sanitizers.
if [[ -f "$build/asan/summary.txt" ]]; then
  echo
  cat "$build/asan/summary.txt"
fi
echo
bash "$root/tests/support/failed_output.sh" "$build/ctest.log"
grep -E "tests passed|tests failed" "$build/ctest.log" | tail -n 1 || true
exit "$rc"
