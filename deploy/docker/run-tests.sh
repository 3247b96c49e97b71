#!/bin/bash
# The compose `tests` service: runs the integration test binaries named by
# ENRICH_TEST_BINARIES (default: ENRICH_TEST_ALL, every one the image built) against the
# compose services (ENRICH_TEST_PG_DSN, ENRICH_TEST_KAFKA_BROKERS), one after
# another, and exits non-zero when any failed. JUnit XML goes to
# /results/<binary>.xml when /results is mounted.
set -uo pipefail
: "${ENRICH_TEST_PG_DSN:?}" "${ENRICH_TEST_KAFKA_BROKERS:?}"
failed=()
for t in ${ENRICH_TEST_BINARIES:-$ENRICH_TEST_ALL}; do
  echo "=== $t"
  out=()
  [[ -d /results ]] && out=("--gtest_output=xml:/results/$t.xml")
  start=$SECONDS
  if /src/build/bin/"$t" "${out[@]}" "$@"; then
    echo "=== $t passed ($((SECONDS - start)) s)"
  else
    echo "=== $t FAILED ($((SECONDS - start)) s)"
    failed+=("$t")
  fi
done
if ((${#failed[@]})); then
  echo "tests: FAILED: ${failed[*]}"
  exit 1
fi
echo "tests: all passed: ${ENRICH_TEST_BINARIES:-$ENRICH_TEST_ALL}"
