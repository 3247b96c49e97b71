#!/usr/bin/env bash
# The benchmark suite in one command (issue 15): builds Release binaries,
# runs tests/bench/cdc_throughput.sh and tests/bench/processor_bench.sh
# --runs times each at one scale, each run on private servers, and writes
# one Markdown report: the machine, every figure's median and spread over
# the runs, every ratio computed within a run and then summarized.
#
#   tests/bench/suite.sh                          # 200k scale, 3 runs
#   tests/bench/suite.sh --scale 2m --with-debezium --runs 5
#   tests/bench/suite.sh --scale small --runs 1   # minutes; what CI runs
#
# Run `tests/bench/suite.sh --help` for every option. A benchmark, not a
# test: the numbers depend on the machine and on whatever else runs on it.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
bench_dir="$root/tests/bench"
source "$root/deploy/lib/services.sh"

usage() {
  cat <<'EOF'
Usage: tests/bench/suite.sh [options]

Builds enrich-cdc and enrich-processor in Release (cmake into --build-dir),
unless --bin-dir is given; then runs, --runs times, each leg:
  cdc        tests/bench/cdc_throughput.sh: pg_recvlogical and enrich-cdc (and
             Debezium with --with-debezium: run 1 has enrich-cdc first, run 2
             Debezium first, and so on) draining the same WAL;
  processor  tests/bench/processor_bench.sh: data from the seeded generator
             (processor_data.sql), first start, burst against REFRESH and
             REFRESH CONCURRENTLY, fan-out, sustained rates, rebuild by replay.
Every leg of every run starts its own PostgreSQL 15 and Kafka (random free
ports, never the local stack's 25432/29092/29093; state under a temp dir) and
stops them when it ends; the data is loaded afresh for every run. If a leg
dies or the suite is interrupted, the suite stops whatever it left running.

Writes a Markdown report: the command line (with the BENCH_* variables set
in the environment), the machine, versions and git commit, the median and
min-max of every figure, per-run ratios and their median. The output and log
of every leg of every run are kept beside it in FILE.d/.

Options (each also an environment variable; the option wins):
  --scale small|200k|2m   BENCH_SUITE_SCALE [200k]
        small: 2,000 conversations, 20,000 messages; cdc workload of 10,000
               small-transaction changes + one 10,000-row transaction; one
               sustained rate (500 changes/s for 5 s). Minutes; CI's smoke test.
        200k:  200,000 conversations, 2,000,000 messages; cdc workload of
               500,000 small-transaction changes + one 500,000-row transaction;
               rates 1000, 5000 and 10000 changes/s for 30 s each.
        2m:    2,000,000 conversations, 20,000,000 messages; cdc workload of
               500,000 small-transaction changes + one 1,000,000-row
               transaction; rates as 200k.
  --conversations N       BENCH_SUITE_CONVERSATIONS: the processor leg's data
                          at N conversations, 10N messages, N/4 subscribers,
                          N/10 Linear issues, fan-out and burst of at most N/10,
                          ceiling rows of at most N/2 (N >= 100); everything
                          else from --scale
  --runs N                BENCH_SUITE_RUNS [3]
  --with-debezium         BENCH_SUITE_DEBEZIUM=1 [0]: the cdc leg also runs
                          Debezium (fetched once by tests/bench/debezium/fetch.sh)
  --legs LIST             BENCH_SUITE_LEGS [cdc,processor]
  --out FILE              BENCH_SUITE_OUT [BUILD_DIR/bench/suite-<UTC time>.md]
  --build-dir DIR         BENCH_SUITE_BUILD_DIR [build/release]
  --bin-dir DIR           BENCH_SUITE_BIN_DIR: take enrich-cdc and
                          enrich-processor from DIR and build nothing
  --jobs N                BENCH_SUITE_JOBS [nproc]: build parallelism
  --keep                  BENCH_SUITE_KEEP=1: keep each leg's state dir
                          (server logs, metrics) under FILE.d/
  -h, --help              this text

The suite sets each script's scale variables (BENCH_CONVERSATIONS,
BENCH_MESSAGES, BENCH_RATES, BENCH_SMALL_TX, ...) and BENCH_SMALL=0 itself;
other variables of the two scripts in the environment (BENCH_FSYNC,
BENCH_CDC_ARGS, BENCH_CHANGE_KIND, ENRICH_CONTRACT_DIR, ...) reach them
unchanged (see each script's header).
Exit status: 0 report written, 1 a build or a leg failed, 2 bad options.
EOF
}

die_usage() { echo "suite: $*" >&2; echo "suite: see --help" >&2; exit 2; }

scale=${BENCH_SUITE_SCALE:-200k}
conversations=${BENCH_SUITE_CONVERSATIONS:-}
runs=${BENCH_SUITE_RUNS:-3}
debezium=${BENCH_SUITE_DEBEZIUM:-0}
legs=${BENCH_SUITE_LEGS:-cdc,processor}
out=${BENCH_SUITE_OUT:-}
build_dir=${BENCH_SUITE_BUILD_DIR:-$root/build/release}
bin_dir=${BENCH_SUITE_BIN_DIR:-}
jobs=${BENCH_SUITE_JOBS:-$(nproc)}
keep=${BENCH_SUITE_KEEP:-0}
# The command as given, with the environment variables that change what
# runs (the suite's own and those it passes to the scripts).
command_line=""
for v in $(compgen -e | grep -E '^(BENCH_|DEBEZIUM_VERSION$)' | sort); do
  command_line+="$v=$(printf '%q' "${!v}") "
done
command_line+="tests/bench/suite.sh"
for a in "$@"; do command_line+=" $(printf '%q' "$a")"; done

while (($#)); do
  opt=$1 val=""
  case "$opt" in
    -h | --help) usage; exit 0 ;;
    --with-debezium) debezium=1; shift; continue ;;
    --keep) keep=1; shift; continue ;;
    --*=*) val=${opt#*=}; opt=${opt%%=*}; shift ;;
    --*) (($# >= 2)) || die_usage "$opt needs a value"; val=$2; shift 2 ;;
    *) die_usage "unexpected argument: $opt" ;;
  esac
  case "$opt" in
    --scale) scale=$val ;;
    --conversations) conversations=$val ;;
    --runs) runs=$val ;;
    --legs) legs=$val ;;
    --out) out=$val ;;
    --build-dir) build_dir=$val ;;
    --bin-dir) bin_dir=$val ;;
    --jobs) jobs=$val ;;
    *) die_usage "unknown option: $opt" ;;
  esac
done

[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die_usage "--runs must be a whole number >= 1"
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || die_usage "--jobs must be a whole number >= 1"
[[ "$debezium" =~ ^[01]$ ]] || die_usage "BENCH_SUITE_DEBEZIUM is 0 or 1"
[[ "$keep" =~ ^[01]$ ]] || die_usage "BENCH_SUITE_KEEP is 0 or 1"
run_cdc=0 run_processor=0
IFS=, read -r -a leg_list <<<"$legs"
for l in "${leg_list[@]}"; do
  case "$l" in
    cdc) run_cdc=1 ;;
    processor) run_processor=1 ;;
    *) die_usage "--legs is a comma-separated list of cdc and processor" ;;
  esac
done
((run_cdc || run_processor)) || die_usage "--legs names no leg"
((debezium == 0 || run_cdc)) || die_usage "--with-debezium needs the cdc leg"

# --- scale presets -----------------------------------------------------------
# p_*: processor_bench.sh, c_*: cdc_throughput.sh.
case "$scale" in
  small)
    p_conv=2000 p_subs=500 p_issues=200 p_fanout=200 p_burst=100 p_ceiling=500
    p_rates=500 p_rate_seconds=5
    c_small_tx=200 c_large_tx=10000 c_warmup_tx=100 c_conv=200 ;;
  200k)
    p_conv=200000 p_subs=50000 p_issues=20000 p_fanout=5000 p_burst=1000 p_ceiling=5000
    p_rates="1000 5000 10000" p_rate_seconds=30
    c_small_tx=10000 c_large_tx=500000 c_warmup_tx=2000 c_conv=2000 ;;
  2m)
    p_conv=2000000 p_subs=500000 p_issues=200000 p_fanout=5000 p_burst=1000 p_ceiling=5000
    p_rates="1000 5000 10000" p_rate_seconds=30
    c_small_tx=10000 c_large_tx=1000000 c_warmup_tx=2000 c_conv=2000 ;;
  *) die_usage "--scale is small, 200k or 2m" ;;
esac
if [[ -n "$conversations" ]]; then
  [[ "$conversations" =~ ^[0-9]+$ ]] && ((conversations >= 100)) ||
    die_usage "--conversations must be a whole number >= 100"
  p_conv=$conversations
  p_subs=$((conversations / 4)) p_issues=$((conversations / 10))
  if ((p_fanout > conversations / 10)); then p_fanout=$((conversations / 10)); fi
  if ((p_burst > conversations / 10)); then p_burst=$((conversations / 10)); fi
  if ((p_ceiling > conversations / 2)); then p_ceiling=$((conversations / 2)); fi
fi
p_msgs=$((p_conv * 10))
c_small_rows=50

# --- binaries ------------------------------------------------------------------
log() { echo "suite: $(date -u +%T) $*" >&2; }
if [[ -z "$bin_dir" ]]; then
  log "building enrich-cdc and enrich-processor (Release) in $build_dir"
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null || {
    log "cmake configure failed"; exit 1; }
  cmake --build "$build_dir" --target enrich-cdc enrich-processor --parallel "$jobs" >&2 || {
    log "build failed"; exit 1; }
  bin_dir="$build_dir/bin"
fi
bin_dir=$(cd "$bin_dir" 2>/dev/null && pwd) || { log "no directory $bin_dir"; exit 1; }
for b in enrich-cdc enrich-processor; do
  [[ -x "$bin_dir/$b" ]] || { log "$bin_dir/$b not found"; exit 1; }
done

# --- output and state ----------------------------------------------------------
[[ -n "$out" ]] || out="$build_dir/bench/suite-$(date -u +%Y%m%dT%H%M%SZ).md"
mkdir -p "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
raw="${out%.md}.d"
rm -rf "$raw"
mkdir -p "$raw"
# Every leg's state dir (its servers' data) is created under this one
# (TMPDIR for the scripts), so the trap below finds whatever a killed leg
# left running.
state_root=$(mktemp -d "${TMPDIR:-/tmp}/enrich-suite.XXXXXX")
chmod 755 "$state_root"
child=""

cleanup() {
  local rc=$? s data
  set +e
  trap - EXIT INT TERM
  if [[ -n "$child" ]] && kill -0 "$child" 2>/dev/null; then
    log "stopping the running leg (pid $child)"
    kill -TERM "$child" 2>/dev/null
    wait "$child" 2>/dev/null
  fi
  # A leg stops its own processes and servers on exit; what a leg killed
  # before its trap ran left behind is found by this run's own paths: the
  # clients by the state dir in their command line (binaries are run from
  # copies there; the Connect worker's configs live there), the servers by
  # their pid files. Never by name.
  local pids=() pid servers=" $$ "
  for s in "$state_root"/enrich-*; do
    [[ -d "$s" ]] || continue
    servers+="$(kafka_pid "$s" 2>/dev/null) "
    [[ -f "$s/pg.location" ]] &&
      servers+="$(head -n 1 "$(pg_datadir "$s")/postmaster.pid" 2>/dev/null) "
  done
  for pid in $(grep -lsF "$state_root/" /proc/[0-9]*/cmdline | cut -d/ -f3); do
    [[ "$servers" == *" $pid "* ]] || pids+=("$pid")
  done
  if ((${#pids[@]})); then
    kill -TERM "${pids[@]}" 2>/dev/null
    for _ in $(seq 1 50); do
      kill -0 "${pids[@]}" 2>/dev/null || break
      sleep 0.2
    done
    for pid in "${pids[@]}"; do
      grep -qsF "$state_root/" "/proc/$pid/cmdline" && kill -KILL "$pid" 2>/dev/null
    done
  fi
  for s in "$state_root"/enrich-*; do
    [[ -d "$s" ]] || continue
    kafka_stop "$s"
    if [[ -f "$s/pg.location" ]]; then
      data=$(pg_datadir "$s")
      pg_stop "$s"
      case "$data" in /var/tmp/enrich-pg-*) ((keep)) || rm -rf "$(dirname "$data")" ;; esac
    fi
  done
  if ((keep)); then
    mv "$state_root" "$raw/state" 2>/dev/null && log "state dirs kept in $raw/state"
  else
    rm -rf "$state_root"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run_leg RUN LEG SCRIPT ENV...: runs SCRIPT with ENV (and BENCH_FIGURES),
# its stdout (the table) in RUN.LEG.txt, its log in RUN.LEG.log, and
# appends its figures to figures.tsv.
run_leg() {
  local run=$1 leg=$2 script=$3 t0 rc=0
  shift 3
  local base="$raw/run$run.$leg"
  log "run $run/$runs: $leg leg ($(basename "$script")); log in $base.log"
  t0=$(date +%s)
  env TMPDIR="$state_root" BENCH_FIGURES="$base.figures" BENCH_KEEP="$keep" "$@" \
    "$script" >"$base.txt" 2>"$base.log" &
  child=$!
  wait "$child" || rc=$?
  child=""
  if ((rc != 0)); then
    log "run $run: $leg leg failed (exit $rc); its log ends with:"
    tail -n 30 "$base.log" >&2
    exit 1
  fi
  [[ -s "$base.figures" ]] || { log "run $run: $leg leg wrote no figures"; exit 1; }
  awk -F= -v run="$run" -v leg="$leg" 'NF >= 2 {
      name = $1; sub(/^[^=]*=/, ""); printf "%s\t%s\t%s\t%s\n", run, leg, name, $0 }' \
    "$base.figures" >>"$raw/figures.tsv"
  log "run $run: $leg leg done in $(($(date +%s) - t0)) s"
}

# --- the machine -------------------------------------------------------------------
pg_version=$("$(pg_bindir)/postgres" --version)
kafka_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$root/deploy/kafka/pom.xml")
cache_file="$bin_dir/../CMakeCache.txt"
compiler="?" build_type="?"
if [[ -f "$cache_file" ]]; then
  cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$cache_file")
  [[ -n "$cxx" ]] && compiler=$("$cxx" --version 2>/dev/null | head -n 1)
  build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$cache_file")
fi
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "?")
[[ -z "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null)" ]] ||
  commit+=" (with uncommitted changes)"
{
  echo -e "date (UTC)\t$(date -u +%Y-%m-%dT%H:%MZ)"
  echo -e "git commit\t$commit"
  echo -e "CPU\t$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
  echo -e "cores\t$(nproc)"
  echo -e "memory\t$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo -e "kernel\t$(uname -sr)"
  echo -e "OS\t$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-?}")"
  echo -e "PostgreSQL\t$pg_version"
  echo -e "Kafka\t$kafka_version (broker and client libraries of deploy/kafka/pom.xml)"
  echo -e "Java\t$(java -version 2>&1 | head -n 1)"
  echo -e "compiler\t$compiler"
  echo -e "build type\t$build_type ($bin_dir)"
  echo -e "enrich-cdc sha256\t$(sha256sum "$bin_dir/enrich-cdc" | cut -c1-16)"
  echo -e "enrich-processor sha256\t$(sha256sum "$bin_dir/enrich-processor" | cut -c1-16)"
  if ((debezium)); then
    echo -e "Debezium\t${DEBEZIUM_VERSION:-$(sed -n 's:.*<debezium.version>\(.*\)</debezium.version>.*:\1:p' "$bench_dir/debezium/pom.xml")}"
  fi
  echo -e "load average at start\t$(cut -d' ' -f1-3 /proc/loadavg)"
  if ((run_processor)); then
    echo -e "processor scale\t$p_conv conversations, $p_msgs messages, $p_subs subscribers, $p_issues Linear issues; fan-out $p_fanout, burst $p_burst; rates ${p_rates// /, } changes/s for $p_rate_seconds s"
  fi
  if ((run_cdc)); then
    echo -e "cdc workload\t$c_small_tx transactions of $c_small_rows changes + one transaction of $c_large_tx inserts; warm-up $c_warmup_tx transactions"
  fi
} >"$raw/machine.tsv"

# --- the runs ----------------------------------------------------------------------
: >"$raw/figures.tsv"
for ((run = 1; run <= runs; run++)); do
  if ((run_cdc)); then
    # BENCH_RUN odd: Debezium first. Run 1 has enrich-cdc first.
    run_leg "$run" cdc "$bench_dir/cdc_throughput.sh" \
      ENRICH_CDC_BIN="$bin_dir/enrich-cdc" BENCH_DEBEZIUM="$debezium" BENCH_RUN=$((run - 1)) \
      BENCH_SMALL_TX="$c_small_tx" BENCH_SMALL_TX_ROWS="$c_small_rows" \
      BENCH_LARGE_TX="$c_large_tx" BENCH_WARMUP_TX="$c_warmup_tx" BENCH_CONVERSATIONS="$c_conv"
  fi
  if ((run_processor)); then
    run_leg "$run" processor "$bench_dir/processor_bench.sh" \
      ENRICH_CDC_BIN="$bin_dir/enrich-cdc" ENRICH_PROCESSOR_BIN="$bin_dir/enrich-processor" \
      BENCH_CONVERSATIONS="$p_conv" BENCH_MESSAGES="$p_msgs" BENCH_SUBSCRIBERS="$p_subs" \
      BENCH_ISSUES="$p_issues" BENCH_FANOUT="$p_fanout" BENCH_BURST="$p_burst" \
      BENCH_CEILING_ROWS="$p_ceiling" BENCH_RATES="$p_rates" \
      BENCH_RATE_SECONDS="$p_rate_seconds" BENCH_SMALL=0
  fi
done

# --- ratios and the report -----------------------------------------------------------
{
  if ((run_cdc)); then
    echo -e "enrich-cdc / pg_recvlogical, changes/s\tcdc.cdc_changes_per_s\tcdc.recvlogical_changes_per_s"
    echo -e "enrich-cdc (from streaming) / pg_recvlogical, changes/s\tcdc.cdc_streaming_changes_per_s\tcdc.recvlogical_changes_per_s"
    if ((debezium)); then
      echo -e "enrich-cdc / Debezium, changes/s to all in Kafka\tcdc.cdc_kafka_changes_per_s\tcdc.debezium_changes_per_s"
      echo -e "enrich-cdc / Debezium, changes/s streaming\tcdc.cdc_kafka_streaming_changes_per_s\tcdc.debezium_streaming_changes_per_s"
      echo -e "Debezium / enrich-cdc, CPU s\tcdc.debezium_cpu_s\tcdc.cdc_cpu_s"
      echo -e "Debezium / enrich-cdc, peak RSS\tcdc.debezium_rss_mb\tcdc.cdc_rss_mb"
      echo -e "Debezium / enrich-cdc, bytes per record on disk\tcdc.debezium_bytes_per_record\tcdc.cdc_bytes_per_record"
    fi
  fi
  if ((run_processor)); then
    echo -e "REFRESH / burst applied\tprocessor.refresh_s\tprocessor.burst_applied_s"
    echo -e "REFRESH CONCURRENTLY / burst applied\tprocessor.refresh_concurrently_s\tprocessor.burst_applied_s"
    echo -e "first start / REFRESH CONCURRENTLY (target <= 1)\tprocessor.first_start_s\tprocessor.refresh_concurrently_s"
    echo -e "rebuild by replay / REFRESH (target <= 1)\tprocessor.replay_s\tprocessor.refresh_s"
    echo -e "rebuild by replay / REFRESH right after it\tprocessor.replay_s\tprocessor.refresh_after_replay_s"
    echo -e "rebuild by replay / REFRESH with LZ4\tprocessor.replay_s\tprocessor.refresh_lz4_s"
    echo -e "second view build / its REFRESH CONCURRENTLY (target <= 1)\tprocessor.second_view_build_s\tprocessor.second_view_refresh_concurrently_s"
  fi
} >"$raw/ratios.tsv"
python3 "$bench_dir/bench_report.py" --figures "$raw/figures.tsv" --ratios "$raw/ratios.tsv" \
  --machine "$raw/machine.tsv" --command "$command_line" --out "$out"
cat >>"$out" <<EOF

## Raw output

Each leg's table, log and figures, per run: \`$raw/\` (runN.LEG.txt, .log,
.figures). What each figure measures: the header of
\`tests/bench/cdc_throughput.sh\` and of \`tests/bench/processor_bench.sh\`.
EOF
if ((debezium)); then
  cat >>"$out" <<'EOF'
Order within the cdc leg: Debezium first in the runs where
`debezium_first` is 1 (even runs), enrich-cdc first in the others.
EOF
fi
log "report: $out"
