#!/usr/bin/env bash
# Throughput benchmark of enrich-cdc against pg_recvlogical (issue 3,
# "Performance"). A benchmark, not a test: the numbers depend on the machine
# and on whatever else runs on it.
#
#   tests/bench/cdc_throughput.sh
#   BENCH_SMALL_TX=200 BENCH_LARGE_TX=20000 tests/bench/cdc_throughput.sh   # quick
#
# What it does, in one run:
#   1. starts a private PostgreSQL 15 and Kafka under a temp state dir
#      (deploy/lib/services.sh), or uses ENRICH_PG_DSN / ENRICH_KAFKA_BROKERS
#      when set (the database must be a scratch one: rows are written to the
#      contract tables; the run's slots and publication are dropped at the end);
#   2. applies the contract's source_schema.sql, sets REPLICA IDENTITY FULL on
#      the four tables, seeds conversations/users/issues, creates a publication
#      and TWO pgoutput slots at the same point, before any measured change;
#   2b. warm-up (BENCH_WARMUP_TX > 0): BENCH_WARMUP_TX small transactions on
#      a third slot, created before the two measured ones (so they do not see
#      it), streamed by enrich-cdc into the same topics before anything is
#      measured. A production broker is long-running: without this, the
#      fresh broker JVM's JIT compilation and topic creation land in the
#      enrich-cdc leg and not in pg_recvlogical's;
#   3. generates the measured WAL: BENCH_SMALL_TX transactions of
#      BENCH_SMALL_TX_ROWS message changes (half inserts, half updates) in two
#      halves with one transaction of BENCH_LARGE_TX message inserts between
#      them, bodies of about BENCH_BODY_BYTES bytes; records the WAL end LSN;
#   4. (a) pg_recvlogical --start on slot 1 (by default proto_version=2 with
#      streaming=on, the protocol enrich-cdc uses, so both walsenders do the
#      same work; BENCH_RECV_PROTO=1 for protocol 1) writing to a
#      file, with --endpos = that LSN, timed until it exits by itself;
#      (b) enrich-cdc on slot 2 (--snapshot=never: it uses the existing slot)
#      publishing to Kafka, timed from its start until the slot's
#      confirmed_flush_lsn reaches that LSN; its peak RSS (VmHWM) is read
#      before it is stopped with SIGTERM;
#   5. prints the table, and checks the counts (pg_recvlogical's file is
#      decoded message by message; enrich-cdc's /metrics events counter).
#      For diagnosis it also prints the CPU of each walsender, the Kafka
#      broker's CPU, how busy the whole machine was during each leg (and the
#      time the host took away: steal), and scheduler wait times (on a shared machine "waiting
#      for a CPU" is other people's load); with BENCH_KEEP=1 the state dir
#      keeps enrich-cdc's log, its final /metrics, and a per-poll trace of
#      confirmed LSN, RSS and CPU (enrich-cdc.progress.tsv).
#
# Environment (defaults in brackets):
#   BENCH_SMALL_TX [10000]        small transactions
#   BENCH_SMALL_TX_ROWS [50]      message changes per small transaction
#   BENCH_LARGE_TX [500000]       inserts in the one large transaction
#   BENCH_BODY_BYTES [400]        message body length
#   BENCH_CONVERSATIONS [2000]    conversations the messages belong to
#   BENCH_RECV_PROTO [2]          pg_recvlogical's protocol: 2 (streaming=on) or 1
#   BENCH_WARMUP_TX [2000]        small transactions of the warm-up (0: none)
#   BENCH_TIMEOUT [1800]          seconds each measured leg may take
#   BENCH_KEEP [0]                1: keep the state dir (logs, output file)
#   BENCH_CDC_ARGS []             extra enrich-cdc flags (e.g. --compression=none)
#   BENCH_PERF [0]                1: `perf record -g` enrich-cdc during its leg
#                                 (perf.data and a perf report in the state dir;
#                                 implies BENCH_KEEP=1; perf costs throughput)
#   BENCH_PERF_OPTS [-g -F 499]   perf record options (e.g. --call-graph dwarf)
#   ENRICH_CDC_BIN                enrich-cdc binary [build/bin/enrich-cdc, else
#                                 build-bench/bin/enrich-cdc]; copied before use
#   ENRICH_CONTRACT_DIR           [../shared/contract beside the repo, or
#                                 beside the checkout it was cloned from]
#   ENRICH_PG_DSN, ENRICH_KAFKA_BROKERS   use these servers instead of starting
#   BENCH_DEBEZIUM [0]            1: also measure Debezium (see below)
#   BENCH_RUN [0]                 run index: even runs measure enrich-cdc then
#                                 Debezium, odd runs Debezium then enrich-cdc
#   BENCH_DEBEZIUM_JAVA_OPTS      the Connect worker's JVM options [those of
#                                 Kafka's connect-standalone.sh: -Xms256M -Xmx2G,
#                                 G1 with MaxGCPauseMillis=20, ...]
#   BENCH_DEBEZIUM_PG_PASSWORD    Debezium's database password (when the
#                                 server asks for one; libpq's PGPASSWORD
#                                 serves psql and enrich-cdc)
#   BENCH_FIGURES [""]            a file: also write each figure there as one
#                                 `name=value` line (the number alone, no unit),
#                                 for tests/bench/suite.sh
#
# The Debezium leg (BENCH_DEBEZIUM=1; it adds a JVM start, the connector's
# start-up and its run to every run, so it is opt-in): Debezium's PostgreSQL
# connector on a Kafka Connect standalone worker of the broker's version,
# both fetched from Maven Central into the cache dir by
# tests/bench/debezium/fetch.sh (versions in tests/bench/debezium/pom.xml),
# draining the same WAL from a third slot created in the same statement as
# the other two (snapshot.mode=no_data: it streams from the slot, no
# snapshot), through the same publication into the same broker, topics
# "bench-dbz-<run>.public.<table>" created by the worker with enrich-cdc's
# partition count (6). JSON converter without schemas; producer settings
# equal to enrich-cdc's: acks=all, enable.idempotence=true,
# compression.type=lz4, linger.ms=20, batch.size=1000000 and 5 requests in
# flight (the most idempotence allows; Connect's own default is 1). Its leg
# runs right before or right after the enrich-cdc leg (BENCH_RUN), and ends
# when the end offsets of its topics (polled every 0.25 s by one JVM running
# tests/bench/debezium/EndOffsets.java, started before the leg's clock) have
# grown by the number of changes. Figures: seconds from the JVM's start and
# from the connector's "Starting streaming" log line (the gap is Debezium's
# start-up; JIT warm-up is inside the streaming seconds, not hidden by a
# warm-up run), changes/s, CPU seconds and peak RSS of the worker JVM, and
# bytes per record of its topics' log segments on disk (a private broker
# only). The enrich-cdc leg is then also timed by the end offsets of its
# topics (the same poller runs beside it), and its bytes per record are
# printed too. The worker's log, configs and the offsets trace are in
# $state/debezium (BENCH_KEEP=1 keeps them).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
bench_dir="$root/tests/bench"
source "$root/deploy/lib/services.sh"

small_tx=${BENCH_SMALL_TX:-10000}
small_rows=${BENCH_SMALL_TX_ROWS:-50}
large_tx=${BENCH_LARGE_TX:-500000}
body_bytes=${BENCH_BODY_BYTES:-400}
conversations=${BENCH_CONVERSATIONS:-2000}
leg_timeout=${BENCH_TIMEOUT:-1800}
warmup_tx=${BENCH_WARMUP_TX:-2000}
recv_proto=${BENCH_RECV_PROTO:-2}
case "$recv_proto" in
  1) recv_proto_opts=(-o proto_version=1) ;;
  2) recv_proto_opts=(-o proto_version=2 -o streaming=on) ;;
  *) echo "bench: BENCH_RECV_PROTO is 1 or 2" >&2; exit 2 ;;
esac
keep=${BENCH_KEEP:-0}
perf_profile=${BENCH_PERF:-0}
((perf_profile)) && keep=1
source "$root/deploy/lib/contract.sh"
contract=$(contract_dir "$root")
for v in small_tx small_rows large_tx body_bytes conversations leg_timeout; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "bench: $v must be a whole number" >&2; exit 2; }
done
((body_bytes >= 40)) || { echo "bench: BENCH_BODY_BYTES must be at least 40" >&2; exit 2; }
((conversations >= 1)) || { echo "bench: BENCH_CONVERSATIONS must be at least 1" >&2; exit 2; }
((small_tx * small_rows + large_tx > 0)) || { echo "bench: nothing to measure" >&2; exit 2; }

cdc_bin=${ENRICH_CDC_BIN:-}
if [[ -z "$cdc_bin" ]]; then
  for c in "$root/build/bin/enrich-cdc" "$root/build-bench/bin/enrich-cdc"; do
    [[ -x "$c" ]] && { cdc_bin=$c; break; }
  done
fi
[[ -n "$cdc_bin" && -x "$cdc_bin" ]] || {
  echo "bench: no enrich-cdc binary; build one (cmake --build build --target enrich-cdc)" \
       "or set ENRICH_CDC_BIN" >&2; exit 2; }
[[ -f "$contract/source_schema.sql" ]] || {
  echo "bench: $contract/source_schema.sql not found (set ENRICH_CONTRACT_DIR)" >&2; exit 2; }

pgbin=$(pg_bindir)
recvlogical="$pgbin/pg_recvlogical"
[[ -x "$recvlogical" ]] || recvlogical=$(command -v pg_recvlogical)
clk_tck=$(getconf CLK_TCK)

state=$(mktemp -d "${TMPDIR:-/tmp}/enrich-bench.XXXXXX")
run="b$$x$RANDOM"               # names this run's slots, publication, topics, rows
slot_recv="${run}_recvlogical"
slot_cdc="${run}_cdc"
slot_warm="${run}_warmup"
publication="${run}_pub"
topic_prefix="bench-$run"
slot_dbz="${run}_debezium"
dbz_prefix="bench-dbz-$run"
debezium=${BENCH_DEBEZIUM:-0}
bench_run=${BENCH_RUN:-0}
[[ "$debezium" =~ ^[01]$ ]] || { echo "bench: BENCH_DEBEZIUM is 0 or 1" >&2; exit 2; }
[[ "$bench_run" =~ ^[0-9]+$ ]] || { echo "bench: BENCH_RUN must be a whole number" >&2; exit 2; }
started_pg=0 started_kafka=0 cdc_pid="" recv_pid="" pg_dsn="" brokers=""
dbz_pid="" offsets_pid=""

log() { echo "bench: $*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
psql_q() { "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -d "$pg_dsn" "$@"; }
psql_val() { "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -At -d "$pg_dsn" -c "$1"; }
# user+system CPU seconds of a process so far ("" when it is gone).
cpu_seconds() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }
  # after the comm field: state is field 3, utime 14, stime 15 (1-based).
  awk -v t="$clk_tck" '{ printf "%.2f", ($12 + $13) / t }' <<<"$stat"
}

# The machine's CPU counters (/proc/stat "cpu" line, in ticks): user nice
# system idle iowait irq softirq steal.
machine_ticks() { awk '/^cpu / { print $2, $3, $4, $5, $6, $7, $8, $9; exit }' /proc/stat; }
# "busy % of all cores, system s, softirq s, steal s" between two
# machine_ticks readings taken `seconds` apart: whether a leg had the
# machine to itself, was CPU-bound, or lost time to the host (steal).
machine_load() {
  awk -v a="$1" -v b="$2" -v t="$clk_tck" -v n="$(nproc)" -v s="$3" 'BEGIN {
    split(a, x, " "); split(b, y, " ")
    for (i = 1; i <= 8; i++) d[i] = (y[i] - x[i]) / t
    busy = d[1] + d[2] + d[3] + d[6] + d[7]
    printf "%.0f%% busy, system %.2f s, softirq %.2f s, steal %.2f s", \
      (s > 0 ? 100 * busy / (n * s) : 0), d[3], d[7], d[8] }'
}

# "on-CPU seconds, seconds spent runnable but waiting for a CPU" of one
# thread (the main thread for a pid), from the scheduler's statistics.
sched_seconds() {
  local run wait
  read -r run wait _ 2>/dev/null <"/proc/$1/schedstat" || return 0
  awk -v r="$run" -v w="$wait" 'BEGIN { printf "%.2f %.2f", r / 1e9, w / 1e9 }'
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  [[ -n "$recv_pid" ]] && kill -TERM "$recv_pid" 2>/dev/null && wait "$recv_pid" 2>/dev/null
  [[ -n "$offsets_pid" ]] && kill -TERM "$offsets_pid" 2>/dev/null && wait "$offsets_pid" 2>/dev/null
  if [[ -n "$dbz_pid" ]] && kill -0 "$dbz_pid" 2>/dev/null; then
    kill -TERM "$dbz_pid"; wait "$dbz_pid" 2>/dev/null
  fi
  if [[ -n "$cdc_pid" ]] && kill -0 "$cdc_pid" 2>/dev/null; then
    kill -TERM "$cdc_pid"; wait "$cdc_pid" 2>/dev/null
  fi
  if ((started_pg == 0)) && [[ -n "$pg_dsn" ]]; then
    # Servers we do not own: leave nothing that pins WAL or keeps our rows.
    psql_q -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
               WHERE slot_name IN ('$slot_recv', '$slot_cdc', '$slot_warm', '$slot_dbz') AND NOT active" \
           -c "DROP PUBLICATION IF EXISTS \"$publication\"" \
           -c "DELETE FROM raw_support_conversations WHERE source = 'bench-$run'" \
           -c "DELETE FROM subscribers_insights WHERE distinct_id LIKE '$run-user-%'" \
           -c "DELETE FROM linear_issues WHERE id LIKE '$run-issue-%'" \
           -c "DELETE FROM enrich_cdc_snapshots WHERE slot_name = '$slot_cdc'" \
           >/dev/null 2>&1
  fi
  ((started_kafka)) && kafka_stop "$state"
  if ((started_pg)); then
    local data; data=$(pg_datadir "$state")
    pg_stop "$state"
    case "$data" in /var/tmp/enrich-pg-*) rm -rf "$(dirname "$data")" ;; esac
  fi
  if ((keep)); then log "state kept in $state"; else rm -rf "$state"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The binary may be rebuilt by someone else while we run: measure a copy.
cp "$cdc_bin" "$state/enrich-cdc"
cdc_bin_desc="$cdc_bin ($(date -u -r "$cdc_bin" +%Y-%m-%dT%H:%MZ), sha256 $(sha256sum "$cdc_bin" | cut -c1-12))"

# --- 1. servers --------------------------------------------------------------
if [[ -n "${ENRICH_PG_DSN:-}" ]]; then
  pg_dsn=$ENRICH_PG_DSN
  log "using PostgreSQL from ENRICH_PG_DSN"
else
  log "starting PostgreSQL 15 under $state"
  started_pg=1
  pg_start "$state" "$(free_port)" on >&2
  pg_dsn=$(pg_dsn "$state")
fi
if [[ -n "${ENRICH_KAFKA_BROKERS:-}" ]]; then
  brokers=$ENRICH_KAFKA_BROKERS
  log "using Kafka from ENRICH_KAFKA_BROKERS"
else
  log "starting Kafka under $state"
  started_kafka=1
  kafka_port=$(free_port); controller_port=$(free_port)
  while [[ "$controller_port" == "$kafka_port" ]]; do controller_port=$(free_port); done
  kafka_start "$state" "$kafka_port" "$controller_port" >&2
  brokers=$(kafka_brokers "$state")
fi
[[ "$(psql_val 'SHOW wal_level')" == logical ]] || {
  log "the server's wal_level is not logical"; exit 1; }
server_version=$(psql_val 'SHOW server_version')

# --- 2. schema, seed rows, publication, two slots ----------------------------
tables="raw_support_conversations, support_conversation_messages, subscribers_insights, linear_issues"
log "applying $contract/source_schema.sql and seeding"
psql_q -f "$contract/source_schema.sql" >/dev/null
psql_q -c "ALTER TABLE raw_support_conversations REPLICA IDENTITY FULL;
           ALTER TABLE support_conversation_messages REPLICA IDENTITY FULL;
           ALTER TABLE subscribers_insights REPLICA IDENTITY FULL;
           ALTER TABLE linear_issues REPLICA IDENTITY FULL" >/dev/null
psql_q -v run="$run" -v conversations="$conversations" -v body_bytes="$body_bytes" \
  -f "$bench_dir/workload.sql" >/dev/null
psql_q -c "CREATE PUBLICATION \"$publication\" FOR TABLE $tables" >/dev/null
# --- 2b. warm-up: its own slot and WAL, before the measured slots exist ----
if ((warmup_tx > 0)); then
  psql_val "SELECT lsn FROM pg_create_logical_replication_slot('$slot_warm', 'pgoutput')" >/dev/null
  # Message numbers past every measured one (see workload.sql).
  warm_first=$((small_tx + large_tx + 10))
  log "warm-up: $warmup_tx small transactions of $small_rows changes"
  psql_q -c "CALL bench_small_transactions('$run', $warm_first, $warmup_tx, $small_rows, $conversations)"
  warm_end=$(psql_val "SELECT pg_current_wal_lsn()")
  ENRICH_PG_DSN="$pg_dsn" ENRICH_KAFKA_BROKERS="$brokers" "$state/enrich-cdc" \
    --slot="$slot_warm" --publication="$publication" --topic-prefix="$topic_prefix" \
    --snapshot=never --metrics-addr=127.0.0.1:0 --spill-dir="$state" \
    >"$state/warmup.log" 2>&1 &
  cdc_pid=$!
  warm_deadline=$(($(date +%s) + leg_timeout))
  until [[ "$(psql_val "SELECT (confirmed_flush_lsn >= '$warm_end'::pg_lsn)::int
                        FROM pg_replication_slots WHERE slot_name = '$slot_warm'")" == 1 ]]; do
    if ! kill -0 "$cdc_pid" 2>/dev/null || (($(date +%s) >= warm_deadline)); then
      log "warm-up did not finish; its log ends with:"; tail -n 20 "$state/warmup.log" >&2; exit 1
    fi
    sleep 0.25
  done
  kill -TERM "$cdc_pid"; wait "$cdc_pid" || true
  cdc_pid=""
  psql_q -c "SELECT pg_drop_replication_slot('$slot_warm')" >/dev/null
  log "warm-up: done"
fi
psql_q -c "CHECKPOINT" >/dev/null 2>&1 || true
# All slots in one statement: no change can land between them.
if ((debezium)); then
  dbz_libs=$("$bench_dir/debezium/fetch.sh")   # before any measured work
  slot_lsns=$(psql_val "SELECT a.lsn || ' ' || b.lsn || ' ' || c.lsn FROM
    pg_create_logical_replication_slot('$slot_recv', 'pgoutput') a,
    pg_create_logical_replication_slot('$slot_cdc', 'pgoutput') b,
    pg_create_logical_replication_slot('$slot_dbz', 'pgoutput') c")
  read -r start_lsn_recv start_lsn_cdc start_lsn_dbz <<<"$slot_lsns"
  log "slots created: $slot_recv at $start_lsn_recv, $slot_cdc at $start_lsn_cdc, $slot_dbz at $start_lsn_dbz"
else
  slot_lsns=$(psql_val "SELECT a.lsn || ' ' || b.lsn FROM
    pg_create_logical_replication_slot('$slot_recv', 'pgoutput') a,
    pg_create_logical_replication_slot('$slot_cdc', 'pgoutput') b")
  read -r start_lsn_recv start_lsn_cdc <<<"$slot_lsns"
  log "slots created: $slot_recv at $start_lsn_recv, $slot_cdc at $start_lsn_cdc"
fi

# --- 3. the measured WAL -----------------------------------------------------
first_half=$((small_tx / 2)); second_half=$((small_tx - first_half))
first_large_message=$((small_tx * ((small_rows + 1) / 2)))
wal_before=$(psql_val "SELECT pg_current_wal_lsn()")
t0=$(now)
log "workload: $first_half small transactions of $small_rows changes"
psql_q -c "CALL bench_small_transactions('$run', 0, $first_half, $small_rows, $conversations)"
if ((large_tx > 0)); then
  log "workload: one transaction of $large_tx inserts"
  psql_q -c "CALL bench_large_transaction('$run', $first_large_message, $large_tx, $conversations)"
fi
log "workload: $second_half small transactions of $small_rows changes"
psql_q -c "CALL bench_small_transactions('$run', $first_half, $second_half, $small_rows, $conversations)"
end_lsn=$(psql_val "SELECT pg_current_wal_lsn()")
t1=$(now)
wal_bytes=$(psql_val "SELECT pg_wal_lsn_diff('$end_lsn', '$wal_before')::bigint")
changes=$((small_tx * small_rows + large_tx))
log "workload: $changes changes in $(elapsed "$t0" "$t1") s, $((wal_bytes / 1048576)) MiB of WAL, end LSN $end_lsn"

# --- Debezium leg helpers (BENCH_DEBEZIUM=1) ---------------------------------
# Bytes of the log segments of the topics named PREFIX* on the private
# broker's disk ("" when the broker is not ours: its disk is not ours to read).
topic_log_bytes() {
  ((started_kafka)) || return 0
  find "$state/kafka/data" -path "$state/kafka/data/$1*" -name '*.log' -printf '%s\n' 2>/dev/null |
    awk '{ s += $1 } END { printf "%d", s }'
}
# Starts the end-offsets poller on topics PREFIX* writing to FILE; returns
# once it has printed its first line (the baseline), so its JVM start and
# compilation stay outside the leg's clock.
start_offsets_poller() {
  local prefix=$1 out=$2 i
  java -Xmx64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$dbz_libs/*" \
    -Dlog4j.configuration=file:"$bench_dir/debezium/log4j-poller.properties" \
    "$bench_dir/debezium/EndOffsets.java" "$brokers" "$prefix" 250 \
    >"$out" 2>"$out.err" &
  offsets_pid=$!
  for i in $(seq 1 240); do
    [[ -s "$out" ]] && return 0
    kill -0 "$offsets_pid" 2>/dev/null || break
    sleep 0.25
  done
  log "the end-offsets poller did not start:"; cat "$out.err" >&2; exit 1
}
stop_offsets_poller() {
  [[ -n "$offsets_pid" ]] || return 0
  kill -TERM "$offsets_pid" 2>/dev/null; wait "$offsets_pid" 2>/dev/null || true
  offsets_pid=""
}
# Last "<time> <sum>" line of a poller's output.
offsets_last() { tail -n 1 "$1" | awk '{ print $1, $2 }'; }
# Seconds from T0 to the first poll whose sum reached TARGET ("" if none).
offsets_reached() {
  awk -v t0="$2" -v n="$3" '$2 >= n { printf "%.2f", $1 - t0; found = 1; exit }' "$1"
}

debezium_leg() {
  local dir="$state/debezium" rest_port host port user db
  mkdir -p "$dir"
  read -r host port user db <<<"$(psql_val "SELECT coalesce(host(inet_server_addr()), '127.0.0.1')
    || ' ' || coalesce(inet_server_port(), 5432) || ' ' || current_user || ' ' || current_database()")"
  rest_port=$(free_port)
  cat >"$dir/worker.properties" <<PROPS
bootstrap.servers=$brokers
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=false
value.converter.schemas.enable=false
offset.storage.file.filename=$dir/offsets.dat
listeners=http://127.0.0.1:$rest_port
producer.acks=all
producer.enable.idempotence=true
producer.compression.type=lz4
producer.linger.ms=20
producer.batch.size=1000000
producer.max.in.flight.requests.per.connection=5
PROPS
  cat >"$dir/connector.properties" <<PROPS
name=bench-debezium
connector.class=io.debezium.connector.postgresql.PostgresConnector
tasks.max=1
plugin.name=pgoutput
database.hostname=$host
database.port=$port
database.user=$user
database.password=${BENCH_DEBEZIUM_PG_PASSWORD:-${PGPASSWORD:-}}
database.dbname=$db
slot.name=$slot_dbz
slot.drop.on.stop=false
publication.name=$publication
publication.autocreate.mode=disabled
snapshot.mode=no_data
topic.prefix=$dbz_prefix
table.include.list=public.raw_support_conversations,public.support_conversation_messages,public.subscribers_insights,public.linear_issues
topic.creation.default.replication.factor=1
topic.creation.default.partitions=6
PROPS
  local java_opts
  read -r -a java_opts <<<"${BENCH_DEBEZIUM_JAVA_OPTS:--Xms256M -Xmx2G -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true}"
  log "measuring Debezium (slot $slot_dbz, until its topics' end offsets grow by $changes)"
  local offsets="$dir/end-offsets.txt" base
  start_offsets_poller "$dbz_prefix" "$offsets"
  base=$(offsets_last "$offsets" | cut -d' ' -f2)
  local bytes0; bytes0=$(topic_log_bytes "$dbz_prefix")
  sync; sleep 1
  local ticks0 t0 t1 ticks1 deadline reached=0 ws last sum
  ticks0=$(machine_ticks)
  t0=$(now)
  java "${java_opts[@]}" -Dlog4j.configuration=file:"$bench_dir/debezium/log4j.properties" \
    -cp "$dbz_libs/*" org.apache.kafka.connect.cli.ConnectStandalone \
    "$dir/worker.properties" "$dir/connector.properties" >"$dir/connect.log" 2>&1 &
  dbz_pid=$!
  dbz_ws_cpu="" dbz_ws_sched=""
  deadline=$(($(date +%s) + leg_timeout))
  echo -e "seconds\trecords\trss_mb\tjvm_cpu_s\twalsender_cpu_s" >"$dir/progress.tsv"
  while :; do
    ws=$(psql_val "SELECT coalesce(active_pid, 0) FROM pg_replication_slots
                   WHERE slot_name = '$slot_dbz'" 2>/dev/null || echo 0)
    if ((started_pg)) && [[ "$ws" =~ ^[1-9][0-9]*$ ]]; then
      c=$(cpu_seconds "$ws"); [[ -n "$c" ]] && dbz_ws_cpu=$c
      c=$(sched_seconds "$ws"); [[ -n "$c" ]] && dbz_ws_sched=$c
    fi
    sum=$(offsets_last "$offsets" | cut -d' ' -f2)
    echo -e "$(elapsed "$t0" "$(now)")\t$((sum - base))\t$(awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$dbz_pid/status" 2>/dev/null)\t$(cpu_seconds "$dbz_pid")\t${dbz_ws_cpu:-}" >>"$dir/progress.tsv"
    ((sum - base >= changes)) && { reached=1; break; }
    kill -0 "$dbz_pid" 2>/dev/null || break
    (($(date +%s) < deadline)) || break
    sleep 0.25
  done
  t1=$(now)
  ticks1=$(machine_ticks)
  # The poll that saw the target, not the loop's wake-up, is the time.
  dbz_secs=$(offsets_reached "$offsets" "$t0" "$((base + changes))")
  [[ -n "$dbz_secs" ]] || dbz_secs=$(elapsed "$t0" "$t1")
  dbz_hwm_kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$dbz_pid/status" 2>/dev/null || echo 0)
  dbz_cpu=$(cpu_seconds "$dbz_pid")
  dbz_load=$(machine_load "$ticks0" "$ticks1" "$(elapsed "$t0" "$t1")")
  # Anything past the target after a short wait would be duplicates.
  sleep 2
  dbz_records=$(( $(offsets_last "$offsets" | cut -d' ' -f2) - base ))
  stop_offsets_poller
  local rc=0
  if kill -0 "$dbz_pid" 2>/dev/null; then
    kill -TERM "$dbz_pid"; wait "$dbz_pid" || rc=$?
  else
    wait "$dbz_pid" || rc=$?
    log "the Connect worker exited by itself (exit $rc)"
  fi
  dbz_pid=""
  if ((!reached)); then
    log "Debezium did not deliver $changes records ($((sum - base)) in $(elapsed "$t0" "$t1") s); its log ends with:"
    grep -v ' DEBUG ' "$dir/connect.log" | tail -n 30 >&2
    exit 1
  fi
  local bytes1; bytes1=$(topic_log_bytes "$dbz_prefix")
  dbz_bytes_per_record=""
  [[ -n "$bytes1" ]] && dbz_bytes_per_record=$(awk -v a="$bytes0" -v b="$bytes1" -v n="$dbz_records" \
    'BEGIN { printf "%.0f", (n > 0 ? (b - a) / n : 0) }')
  local streaming_ts
  streaming_ts=$(grep -m1 'Starting streaming' "$dir/connect.log" | cut -d' ' -f1)
  dbz_stream_secs="" dbz_startup_secs=""
  if [[ -n "$streaming_ts" ]]; then
    local ts; ts=$(date -d "$(sed 's/\(\.[0-9]*\)\([+-][0-9][0-9]\)\([0-9][0-9]\)$/\1\2:\3/' <<<"$streaming_ts")" +%s.%N)
    dbz_startup_secs=$(elapsed "$t0" "$ts")
    dbz_stream_secs=$(awk -v a="$dbz_secs" -v b="$dbz_startup_secs" 'BEGIN { printf "%.2f", a - b }')
  fi
  dbz_errors=$(grep -c ' ERROR ' "$dir/connect.log" || true)
  dbz_warnings=$(grep -c ' WARN ' "$dir/connect.log" || true)
  dbz_exit=$rc
  log "Debezium: $dbz_secs s ($dbz_records records)"
}

# --- 4a. pg_recvlogical ------------------------------------------------------
log "measuring pg_recvlogical (slot $slot_recv, --endpos $end_lsn)"
sync; sleep 1
recv_out="$state/recvlogical.out"
recv_ticks0=$(machine_ticks)
t0=$(now)
timeout "$leg_timeout" /usr/bin/time -f "%U %S %M" -o "$state/recvlogical.time" \
  "$recvlogical" -d "$pg_dsn" --start -S "$slot_recv" "${recv_proto_opts[@]}" \
  -o publication_names="$publication" -P pgoutput -f "$recv_out" --no-loop \
  -E "$end_lsn" 2>"$state/recvlogical.err" &
recv_pid=$!
recv_ws_cpu="" recv_ws_sched=""
while kill -0 "$recv_pid" 2>/dev/null; do
  # CPU of the walsender serving it (the physical limit of both legs).
  ws=$(psql_val "SELECT coalesce(active_pid, 0) FROM pg_replication_slots
                 WHERE slot_name = '$slot_recv'" 2>/dev/null || echo 0)
  if ((started_pg)) && [[ "$ws" =~ ^[1-9][0-9]*$ ]]; then
    c=$(cpu_seconds "$ws"); [[ -n "$c" ]] && recv_ws_cpu=$c
    c=$(sched_seconds "$ws"); [[ -n "$c" ]] && recv_ws_sched=$c
  fi
  sleep 0.25
done
recv_rc=0; wait "$recv_pid" || recv_rc=$?
t1=$(now)
recv_ticks1=$(machine_ticks)
recv_pid=""
recv_secs=$(elapsed "$t0" "$t1")
if ((recv_rc != 0)); then
  log "pg_recvlogical failed (exit $recv_rc):"; cat "$state/recvlogical.err" >&2; exit 1
fi
read -r recv_user recv_sys recv_maxrss_kb <"$state/recvlogical.time"
recv_cpu=$(awk -v u="$recv_user" -v s="$recv_sys" 'BEGIN { printf "%.2f", u + s }')
log "pg_recvlogical: $recv_secs s, $(($(stat -c %s "$recv_out") / 1048576)) MiB written"

# --- 4b. enrich-cdc (and Debezium before or after it) -------------------------
if ((debezium && bench_run % 2 == 1)); then debezium_leg; fi
log "measuring enrich-cdc (slot $slot_cdc, until confirmed_flush_lsn >= $end_lsn)"
mkdir -p "$state/spill"
cdc_offsets="$state/enrich-cdc.end-offsets.txt" cdc_bytes0=""
if ((debezium)); then
  # The same poller as Debezium's leg, so both legs carry its cost.
  start_offsets_poller "$topic_prefix" "$cdc_offsets"
  cdc_bytes0=$(topic_log_bytes "$topic_prefix")
fi
sync; sleep 1
cdc_log="$state/enrich-cdc.log"
read -r -a extra_args <<<"${BENCH_CDC_ARGS:-}"
cdc_ticks0=$(machine_ticks)
t0=$(now)
ENRICH_PG_DSN="$pg_dsn" ENRICH_KAFKA_BROKERS="$brokers" "$state/enrich-cdc" \
  --slot="$slot_cdc" --publication="$publication" --topic-prefix="$topic_prefix" \
  --snapshot=never --metrics-addr=127.0.0.1:0 --spill-dir="$state/spill" \
  "${extra_args[@]}" >"$cdc_log" 2>&1 &
cdc_pid=$!
perf_pid=""
if ((perf_profile)); then
  read -r -a perf_opts <<<"${BENCH_PERF_OPTS:--g -F 499}"
  perf record -q "${perf_opts[@]}" -o "$state/perf.data" -p "$cdc_pid" >"$state/perf.log" 2>&1 &
  perf_pid=$!
fi
cdc_ws_cpu="" cdc_ws_sched="" reached=0 deadline=$(($(date +%s) + leg_timeout))
kafka_cpu0=""
((started_kafka)) && kafka_cpu0=$(cpu_seconds "$(kafka_pid "$state")")
# A trace for diagnosis (kept with BENCH_KEEP=1): one line per poll.
trace="$state/enrich-cdc.progress.tsv"
echo -e "seconds\tconfirmed_flush_lsn\tmb_confirmed\trss_mb\tcdc_cpu_s\twalsender_cpu_s" >"$trace"
while :; do
  row=$(psql_val "SELECT (confirmed_flush_lsn >= '$end_lsn'::pg_lsn)::int || ' ' ||
                         coalesce(active_pid, 0) || ' ' || confirmed_flush_lsn || ' ' ||
                         (pg_wal_lsn_diff(confirmed_flush_lsn, '$start_lsn_cdc') / 1048576)::int
                  FROM pg_replication_slots WHERE slot_name = '$slot_cdc'" 2>/dev/null || true)
  read -r done_flag ws confirmed confirmed_mb <<<"${row:-0 0 ? ?}"
  if ((started_pg)) && [[ "$ws" =~ ^[1-9][0-9]*$ ]]; then
    c=$(cpu_seconds "$ws"); [[ -n "$c" ]] && cdc_ws_cpu=$c
    c=$(sched_seconds "$ws"); [[ -n "$c" ]] && cdc_ws_sched=$c
  fi
  rss=$(awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$cdc_pid/status" 2>/dev/null || true)
  echo -e "$(elapsed "$t0" "$(now)")\t$confirmed\t$confirmed_mb\t$rss\t$(cpu_seconds "$cdc_pid")\t${cdc_ws_cpu:-}" >>"$trace"
  [[ "$done_flag" == 1 ]] && { reached=1; break; }
  kill -0 "$cdc_pid" 2>/dev/null || break
  (($(date +%s) < deadline)) || break
  sleep 0.25
done
t1=$(now)
cdc_ticks1=$(machine_ticks)
cdc_secs=$(elapsed "$t0" "$t1")
cdc_hwm_kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$cdc_pid/status" 2>/dev/null || echo 0)
cdc_cpu=$(cpu_seconds "$cdc_pid")
cdc_main_sched=$(sched_seconds "$cdc_pid")
metrics_addr=$(sed -n 's/.*msg="\{0,1\}metrics listening"\{0,1\} addr=\([0-9.:]*\).*/\1/p' "$cdc_log" | head -n 1)
metrics=""
[[ -n "$metrics_addr" ]] && metrics=$(curl -fsS --max-time 5 "http://$metrics_addr/metrics" 2>/dev/null || true)
printf '%s\n' "$metrics" >"$state/enrich-cdc.metrics.txt"
kafka_cpu=""
if [[ -n "$kafka_cpu0" ]]; then
  kafka_cpu=$(awk -v a="$kafka_cpu0" -v b="$(cpu_seconds "$(kafka_pid "$state")")" 'BEGIN { printf "%.2f", b - a }')
fi
if [[ -n "$perf_pid" ]]; then
  kill -INT "$perf_pid" 2>/dev/null; wait "$perf_pid" 2>/dev/null || true
  perf report -i "$state/perf.data" --no-children --percent-limit 0.5 --stdio \
    >"$state/perf.report.txt" 2>/dev/null || true
  log "perf profile: $state/perf.report.txt"
fi
cdc_rc=0
if kill -0 "$cdc_pid" 2>/dev/null; then
  kill -TERM "$cdc_pid"
  wait "$cdc_pid" || cdc_rc=$?
else
  wait "$cdc_pid" || cdc_rc=$?
  log "enrich-cdc exited by itself (exit $cdc_rc)"
fi
cdc_pid=""
if ((!reached)); then
  log "enrich-cdc did not confirm $end_lsn (exit $cdc_rc, $cdc_secs s); its log ends with:"
  tail -n 30 "$cdc_log" >&2
  exit 1
fi
cdc_offsets_secs="" cdc_offsets_records="" cdc_bytes_per_record=""
if ((debezium)); then
  sleep 1
  cdc_offsets_base=$(head -n 1 "$cdc_offsets" | cut -d' ' -f2)
  cdc_offsets_final=$(offsets_last "$cdc_offsets" | cut -d' ' -f2)
  stop_offsets_poller
  cdc_offsets_records=$((cdc_offsets_final - cdc_offsets_base))
  # When the last record landed: the first poll that saw the final sum.
  cdc_offsets_secs=$(offsets_reached "$cdc_offsets" "$t0" "$cdc_offsets_final")
  cdc_bytes1=$(topic_log_bytes "$topic_prefix")
  [[ -n "$cdc_bytes1" ]] && cdc_bytes_per_record=$(awk -v a="$cdc_bytes0" -v b="$cdc_bytes1" \
    -v n="$cdc_offsets_records" 'BEGIN { printf "%.0f", (n > 0 ? (b - a) / n : 0) }')
  if ((bench_run % 2 == 0)); then debezium_leg; fi
fi

# --- 5. checks and the table -------------------------------------------------
recv_counts=$(python3 "$bench_dir/count_pgoutput.py" "$recv_out" 2>&1) || {
  log "cannot decode pg_recvlogical's output: $recv_counts"; exit 1; }
recv_changes=$(sed -n 's/^changes=//p' <<<"$recv_counts")
cdc_events=$(awk '/^enrich_cdc_events_total[{ ]/ { s += $NF; n++ } END { if (n) printf "%d", s }' <<<"$metrics")
cdc_delivered=$(awk '/^enrich_cdc_records_delivered_total[{ ]/ { s += $NF; n++ } END { if (n) printf "%d", s }' <<<"$metrics")
streaming_from=$(sed -n 's/.*msg="\{0,1\}streaming"\{0,1\} .*from=\([0-9A-F/]*\).*/\1/p' "$cdc_log" | head -n 1)
# Seconds from enrich-cdc's "streaming" log line (after connecting, checking
# the source and creating topics) to the confirmation: the stream alone.
streaming_ts=$(grep -m1 'msg="\{0,1\}streaming"\{0,1\} ' "$cdc_log" | sed -n 's/^ts=\([^ ]*\) .*/\1/p')
cdc_proto=$(grep -m1 'msg="\{0,1\}streaming"\{0,1\} ' "$cdc_log" | sed -n 's/.* protocol=\([0-9]*\).*/\1/p')
stream_secs=""
[[ -n "$streaming_ts" ]] && stream_secs=$(elapsed "$(date -d "$streaming_ts" +%s.%N)" "$t1")
reconnects=$(grep -c 'reconnecting' "$cdc_log" || true)
warnings=$(grep -c 'level=WARN\|level=warn' "$cdc_log" || true)
errors=$(grep -c 'level=ERROR\|level=error' "$cdc_log" || true)

rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }
recv_rate=$(rate "$changes" "$recv_secs")
cdc_rate=$(rate "$changes" "$cdc_secs")
ratio=$(awk -v a="$cdc_rate" -v b="$recv_rate" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
stream_rate="" stream_ratio=""
if [[ -n "$stream_secs" ]]; then
  stream_rate=$(rate "$changes" "$stream_secs")
  stream_ratio=$(awk -v a="$stream_rate" -v b="$recv_rate" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
fi
hwm_mb=$(awk -v k="$cdc_hwm_kb" 'BEGIN { printf "%.1f", k / 1024 }')
recv_rss_mb=$(awk -v k="$recv_maxrss_kb" 'BEGIN { printf "%.1f", k / 1024 }')

cat <<EOF

enrich-cdc throughput benchmark  ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))
PostgreSQL $server_version, Kafka at $brokers, enrich-cdc $cdc_bin_desc
workload: $small_tx small tx x $small_rows message changes (half inserts, half updates)
          + 1 tx of $large_tx inserts (between the two halves), bodies ~$body_bytes B,
          REPLICA IDENTITY FULL, $((wal_bytes / 1048576)) MiB of WAL, end LSN $end_lsn
warm-up:  $((warmup_tx * small_rows)) changes streamed by enrich-cdc into the same topics before
          the measured slots existed (BENCH_WARMUP_TX=$warmup_tx; 0 turns it off)

| consumer                          | changes | seconds | changes/s | client CPU s | walsender CPU s | peak RSS MB |
|-----------------------------------|---------|---------|-----------|--------------|-----------------|-------------|
$(printf '| %-33s | %7s | %7s | %9s | %12s | %15s | %11s |' "pg_recvlogical -> file (proto $recv_proto)" "$changes" "$recv_secs" "$recv_rate" "$recv_cpu" "${recv_ws_cpu:-?}" "$recv_rss_mb")
$(printf '| %-33s | %7s | %7s | %9s | %12s | %15s | %11s |' "enrich-cdc -> Kafka (proto ${cdc_proto:-?})" "$changes" "$cdc_secs" "$cdc_rate" "${cdc_cpu:-?}" "${cdc_ws_cpu:-?}" "$hwm_mb")

ratio enrich-cdc / pg_recvlogical: $ratio
enrich-cdc peak RSS (VmHWM): $hwm_mb MB
scheduler (on CPU s / runnable but waiting for a CPU s): walsender for pg_recvlogical ${recv_ws_sched:-?},
  walsender for enrich-cdc ${cdc_ws_sched:-?}, enrich-cdc main thread ${cdc_main_sched:-?}
  (waiting for a CPU = other load on the machine; the rest of a leg's time is idle, waiting on I/O or the peer)
Kafka broker CPU during the enrich-cdc leg: ${kafka_cpu:-?} s (same machine: it competes with the walsender and enrich-cdc)
machine during each leg (all processes; near 100% busy = CPU-bound, where only less CPU helps):
  pg_recvlogical leg $(machine_load "$recv_ticks0" "$recv_ticks1" "$recv_secs")
  enrich-cdc leg     $(machine_load "$cdc_ticks0" "$cdc_ticks1" "$cdc_secs")
(enrich-cdc from its "streaming" log line, without start-up: ${stream_secs:-?} s, ${stream_rate:-?} changes/s, ratio ${stream_ratio:-?})

checks: pg_recvlogical's file decoded: $(tr '\n' ' ' <<<"$recv_counts")
        enrich-cdc streamed from ${streaming_from:-?} (slot created at $start_lsn_cdc), events published ${cdc_events:-?}, records delivered ${cdc_delivered:-?} (tombstones and fan-out included),
        log: $reconnects reconnect(s), $warnings warning(s), $errors error(s); exit after SIGTERM: $cdc_rc
timing: pg_recvlogical from start to its exit at --endpos; enrich-cdc from process start
        (connect, topic creation) until pg_replication_slots.confirmed_flush_lsn >= end LSN,
        polled every 0.25 s (its status updates go out every second).
EOF
if ((debezium)); then
  dbz_rate=$(rate "$changes" "$dbz_secs")
  dbz_stream_rate=""
  [[ -n "$dbz_stream_secs" ]] && dbz_stream_rate=$(rate "$changes" "$dbz_stream_secs")
  cdc_off_rate=""
  [[ -n "$cdc_offsets_secs" ]] && cdc_off_rate=$(rate "$changes" "$cdc_offsets_secs")
  cdc_startup=""
  [[ -n "$stream_secs" ]] && cdc_startup=$(awk -v a="$cdc_secs" -v b="$stream_secs" 'BEGIN { printf "%.2f", a - b }')
  cdc_stream_off=""
  [[ -n "$cdc_offsets_secs" && -n "$cdc_startup" ]] && cdc_stream_off=$(awk -v a="$cdc_offsets_secs" -v b="$cdc_startup" 'BEGIN { printf "%.2f", a - b }')
  dbz_hwm_mb=$(awk -v k="$dbz_hwm_kb" 'BEGIN { printf "%.1f", k / 1024 }')
  if ((bench_run % 2)); then order="Debezium first, then enrich-cdc"; else order="enrich-cdc first, then Debezium"; fi
  ratio2() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b > 0) printf "%.2f", a / b; else printf "?" }'; }
  cat <<EOF

Debezium $(basename "$(dirname "$dbz_libs")" | sed 's/^debezium-//') against enrich-cdc, same WAL, same broker
(BENCH_RUN=$bench_run: $order; each from its own slot created at the same point; "in Kafka" = the end offsets of its topics)

| consumer                 | changes | s to all in Kafka | of which start-up | s streaming | changes/s | changes/s streaming | CPU s | peak RSS MB | bytes/record on disk |
|--------------------------|---------|-------------------|-------------------|-------------|-----------|---------------------|-------|-------------|----------------------|
$(printf '| %-24s | %7s | %17s | %17s | %11s | %9s | %19s | %5s | %11s | %20s |' "enrich-cdc -> Kafka" "$changes" "${cdc_offsets_secs:-?}" "${cdc_startup:-?}" "${cdc_stream_off:-?}" "${cdc_off_rate:-?}" "$(rate "$changes" "${cdc_stream_off:-0}")" "${cdc_cpu:-?}" "$hwm_mb" "${cdc_bytes_per_record:-?}")
$(printf '| %-24s | %7s | %17s | %17s | %11s | %9s | %19s | %5s | %11s | %20s |' "Debezium -> Kafka" "$changes" "$dbz_secs" "${dbz_startup_secs:-?}" "${dbz_stream_secs:-?}" "$dbz_rate" "${dbz_stream_rate:-?}" "${dbz_cpu:-?}" "$dbz_hwm_mb" "${dbz_bytes_per_record:-?}")

ratios (within this run): changes/s enrich-cdc / Debezium $(ratio2 "$cdc_off_rate" "$dbz_rate") from process start, $(ratio2 "$(rate "$changes" "${cdc_stream_off:-0}")" "${dbz_stream_rate:-0}") streaming;
  CPU s Debezium / enrich-cdc $(ratio2 "$dbz_cpu" "$cdc_cpu"); peak RSS Debezium / enrich-cdc $(ratio2 "$dbz_hwm_mb" "$hwm_mb")
walsender CPU s: for enrich-cdc ${cdc_ws_cpu:-?}, for Debezium ${dbz_ws_cpu:-?}; walsender for Debezium on CPU / waiting s ${dbz_ws_sched:-?}
machine during the Debezium leg: $dbz_load
checks: Debezium records $dbz_records (expected $changes; more = duplicates), enrich-cdc records $cdc_offsets_records
        (tombstones and fan-out included), worker log: $dbz_warnings warning(s), $dbz_errors error(s), exit after SIGTERM $dbz_exit
timing: from the JVM's (process's) start to the first 0.25 s poll of end offsets that saw every record;
        start-up = to Debezium's "Starting streaming" log line (enrich-cdc: its "streaming" line);
        CPU s and peak RSS are the whole process (worker JVM: all threads, GC and JIT included)
        until that poll; bytes/record = growth of the topics' .log segments / records.
EOF
  if [[ "$dbz_records" != "$changes" ]]; then
    log "WARNING: Debezium's topics grew by $dbz_records records, expected $changes"
  fi
fi
if [[ -n "$recv_changes" && "$recv_changes" != "$changes" ]]; then
  log "WARNING: pg_recvlogical's file holds $recv_changes changes, expected $changes"
fi
if [[ -n "$cdc_events" && "$cdc_events" != "$changes" ]]; then
  log "WARNING: enrich-cdc counted $cdc_events events, expected $changes (duplicates after a reconnect?)"
fi
if [[ -n "$streaming_from" && "$streaming_from" != "$start_lsn_cdc" ]]; then
  log "WARNING: enrich-cdc streamed from $streaming_from, not the slot's $start_lsn_cdc"
fi
# --- machine-readable figures (BENCH_FIGURES=FILE) --------------------------
# One `name=value` line per figure printed above, the number alone (units
# dropped). Names are stable: tests/bench/suite.sh reads them.
if [[ -n "${BENCH_FIGURES:-}" ]]; then
  fig() { if [[ -n "${2:-}" ]]; then printf '%s=%s\n' "$1" "$2"; fi; }
  {
    fig changes "$changes"; fig wal_mib "$((wal_bytes / 1048576))"
    fig recvlogical_s "$recv_secs"; fig recvlogical_changes_per_s "$recv_rate"
    fig recvlogical_cpu_s "$recv_cpu"; fig recvlogical_walsender_cpu_s "$recv_ws_cpu"
    fig recvlogical_rss_mb "$recv_rss_mb"
    fig cdc_s "$cdc_secs"; fig cdc_changes_per_s "$cdc_rate"
    fig cdc_cpu_s "$cdc_cpu"; fig cdc_walsender_cpu_s "$cdc_ws_cpu"
    fig cdc_rss_mb "$hwm_mb"
    fig cdc_streaming_s "$stream_secs"; fig cdc_streaming_changes_per_s "$stream_rate"
    fig cdc_events "$cdc_events"; fig cdc_reconnects "$reconnects"
    fig kafka_cpu_s "$kafka_cpu"
    if ((debezium)); then
      fig debezium_first "$((bench_run % 2))"
      fig cdc_kafka_s "$cdc_offsets_secs"; fig cdc_kafka_startup_s "$cdc_startup"
      fig cdc_kafka_streaming_s "$cdc_stream_off"; fig cdc_kafka_changes_per_s "$cdc_off_rate"
      [[ -z "$cdc_stream_off" ]] ||
        fig cdc_kafka_streaming_changes_per_s "$(rate "$changes" "$cdc_stream_off")"
      fig cdc_kafka_records "$cdc_offsets_records"
      fig cdc_bytes_per_record "$cdc_bytes_per_record"
      fig debezium_s "$dbz_secs"; fig debezium_startup_s "$dbz_startup_secs"
      fig debezium_streaming_s "$dbz_stream_secs"; fig debezium_changes_per_s "$dbz_rate"
      fig debezium_streaming_changes_per_s "$dbz_stream_rate"
      fig debezium_cpu_s "$dbz_cpu"; fig debezium_walsender_cpu_s "$dbz_ws_cpu"
      fig debezium_rss_mb "$dbz_hwm_mb"; fig debezium_records "$dbz_records"
      fig debezium_bytes_per_record "$dbz_bytes_per_record"
    fi
  } >"$BENCH_FIGURES"
fi
exit 0
