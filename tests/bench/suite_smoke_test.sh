#!/usr/bin/env bash
# CTest bench_smoke: the benchmark suite still works end to end. Runs
# tests/bench/suite.sh at the small scale, one run, no Debezium, with the
# binaries of the build under test (BIN_DIR, no Release build), and checks
# that the report names the command and the machine and carries every
# figure and ratio below with a numeric median. No timing assertion: the
# values themselves are not checked.
#
#   tests/bench/suite_smoke_test.sh BIN_DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin_dir=${1:?usage: suite_smoke_test.sh BIN_DIR}

work=$(mktemp -d "${TMPDIR:-/tmp}/enrich-bench-smoke.XXXXXX")
trap 'rm -rf "$work"' EXIT
report="$work/report.md"

"$root/tests/bench/suite.sh" --scale small --runs 1 --bin-dir "$bin_dir" --out "$report"

failures=0
fail() { echo "bench_smoke: $*" >&2; failures=$((failures + 1)); }
[[ -s "$report" ]] || { echo "bench_smoke: no report at $report" >&2; exit 1; }

grep -q '^Command: `.*tests/bench/suite.sh --scale small --runs 1 --bin-dir' "$report" ||
  fail "the report does not start with the command line"
for fact in "git commit" cores memory kernel PostgreSQL Kafka compiler "processor scale" \
            "cdc workload"; do
  grep -q "^| $fact | [^|]*[^ |][^|]* |$" "$report" || fail "machine: no '$fact'"
done

# numeric_row TITLE: a row "| TITLE | ... | MEDIAN | ..." whose median (the
# first cell after the name for figures, after the definition for ratios)
# is a number.
number='-?[0-9]+(\.[0-9]+)?'
figure() {
  grep -qE "^\| $1 \| $number \| " "$report" || fail "figure $1: missing or not numeric"
}
ratio() {
  grep -qF "| $1 | " "$report" &&
    grep -F "| $1 | " "$report" | grep -qE "^\| [^|]+ \| [^|]+ \| $number \| " ||
    fail "ratio '$1': missing or not numeric"
}

for f in changes wal_mib recvlogical_s recvlogical_changes_per_s recvlogical_cpu_s \
         recvlogical_rss_mb cdc_s cdc_changes_per_s cdc_cpu_s cdc_rss_mb cdc_streaming_s \
         cdc_streaming_changes_per_s cdc_events kafka_cpu_s; do
  figure "$f"
done
for f in generate_s migrate_s migrate_rss_mb enriched_rows burst_write_s burst_applied_s \
         burst2_applied_s burst_rows_differing burst2_rows_differing refresh_s \
         refresh_concurrently_s fanout_applied_s fanout_rows_differing \
         ceiling_precomputed_s ceiling_reaggregated_s rate_500_achieved_changes_per_s \
         rate_500_freshness_p50_s rate_500_freshness_p99_s rate_500_drain_s \
         rate_500_cpu_processor_pct rate_500_machine_busy_pct full_rows_differing \
         processor_rss_mb cdc_rss_mb first_start_s snapshot_publish_s replay_s \
         replay_write_s replay_rows_differing refresh_after_replay_s refresh_lz4_s \
         replay_rss_mb second_view_build_s second_view_rows \
         second_view_refresh_concurrently_s second_view_refresh_s \
         second_view_rows_differing second_view_rss_mb; do
  figure "$f"
done
for r in "enrich-cdc / pg_recvlogical, changes/s" \
         "enrich-cdc (from streaming) / pg_recvlogical, changes/s" \
         "REFRESH / burst applied" "REFRESH CONCURRENTLY / burst applied" \
         "first start / REFRESH CONCURRENTLY (target <= 1)" \
         "rebuild by replay / REFRESH (target <= 1)" \
         "second view build / its REFRESH CONCURRENTLY (target <= 1)"; do
  ratio "$r"
done

# Not timing: every benchmark checks the table against the reference after
# its leg, and a smoke run with rows differing is a broken pipeline.
for f in burst_rows_differing burst2_rows_differing fanout_rows_differing \
         full_rows_differing replay_rows_differing second_view_rows_differing; do
  grep -qE "^\| $f \| 0(\.0+)? \| " "$report" || fail "figure $f: not 0"
done

if ((failures)); then
  echo "bench_smoke: $failures check(s) failed; the report:" >&2
  cat "$report" >&2
  exit 1
fi
echo "bench_smoke: report complete ($(grep -c '^| ' "$report") table rows)"
