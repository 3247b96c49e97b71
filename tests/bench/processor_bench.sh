#!/usr/bin/env bash
# Benchmark of enrich-processor against REFRESH MATERIALIZED VIEW (issue 4,
# "Performance"). A benchmark, not a test: numbers depend on the machine and
# on whatever else runs on it.
#
#   tests/bench/processor_bench.sh                     # default scale
#   BENCH_CONVERSATIONS=20000 BENCH_MESSAGES=200000 BENCH_SUBSCRIBERS=5000 \
#     BENCH_ISSUES=2000 BENCH_FANOUT=1000 BENCH_BURST=200 tests/bench/processor_bench.sh
#
# One run, on a private PostgreSQL 15 + Kafka (deploy/lib/services.sh) under a
# temp state dir, all of it stopped at exit:
#   1. source schema (contract) with REPLICA IDENTITY FULL, data from
#      processor_data.sql: BENCH_CONVERSATIONS conversations, BENCH_MESSAGES
#      messages (evenly spread, bodies ~BENCH_BODY_BYTES), BENCH_SUBSCRIBERS
#      subscribers, BENCH_ISSUES Linear issues, and one user ('user-hot')
#      owning BENCH_FANOUT conversations; the contract view, and
#      enriched_reference_mv = a materialized copy of it (unique index on id)
#      for the REFRESH comparisons;
#   2. enrich-cdc, `enrich-processor migrate` (backfill, timed),
#      `enrich-processor run`; a warm-up change proves the pipeline.
#      (f) BENCH_FIRST_START=1: enrich-cdc takes its initial snapshot
#      (--snapshot=initial, published as a boundary, the default
#      --snapshot-content; the processor builds the table once, at start or
#      at the boundary; BENCH_SNAPSHOT_CONTENT=rows publishes every source
#      row instead) and the first start
#      is timed from migrate's start until the pipeline has drained (the slot
#      confirmed past the WAL position and every published record applied),
#      next to (a)'s REFRESH ... CONCURRENTLY of the same data;
#      BENCH_FIRST_START=0: --snapshot=never (faster set-up for the other legs);
#   3. (a) burst: ONE transaction updating one message body in each of
#      BENCH_BURST random conversations; timed from its COMMIT until all of
#      those enriched rows carry a source_commit_lsn at or past the burst's
#      commit (polled server-side every 5 ms), then checked equal to the
#      reference view for those ids; next to one REFRESH MATERIALIZED VIEW and
#      one REFRESH ... CONCURRENTLY of enriched_reference_mv (same data);
#   4. (d) one subscribers_insights update of 'user-hot' (fan-out to
#      BENCH_FANOUT conversations), timed the same way;
#   5. (b) first the ceilings, each in a transaction rolled back: one batched
#      upsert of BENCH_CEILING_ROWS precomputed enriched rows (copied from the
#      reference view beforehand), and the same upsert re-aggregating each
#      row from its messages (per-id lookups and a LATERAL aggregate);
#      then pgbench at each of BENCH_RATES changes/s for BENCH_RATE_SECONDS s,
#      each transaction editing the first message of (BENCH_CHANGE_KIND=insert:
#      adding a new message to; =conversation: updating the status of)
#      BENCH_CHANGES_PER_TX
#      random conversations (pgbench --rate = rate / that); freshness p50/p99
#      from the processor's enrich_processor_freshness_seconds histogram
#      (difference of /metrics before and after; interpolated within
#      buckets), the drain time after pgbench stops, and the highest rate
#      whose p99 stayed under 1 s;
#   6. the whole enriched table compared with the reference view (EXCEPT ALL
#      both ways, BENCH_VERIFY_FULL=1);
#      Also CPU per process while pgbench runs, and the processor's batches.
#   7. peak RSS (VmHWM) of enrich-cdc and enrich-processor, then their stop;
#   8. (c) BENCH_REPLAY=1: rebuild by replay against a full refresh, same
#      data: a second enrich-cdc (--snapshot=initial, its own slot and topic
#      prefix bench-snap) publishes snapshot-read events of every source row
#      as they are now (timed; its slot is dropped once it has published),
#      then the enriched table is emptied (TRUNCATE) with the replay group's
#      stored offsets, and `enrich-processor replay --from-beginning` re-reads
#      those topics from Kafka and rebuilds it; timed from its start until it
#      exits (consuming, planning and every write), then the whole table is
#      compared with the reference view (EXCEPT ALL both ways) and printed
#      next to (a)'s REFRESH, one more REFRESH timed right after the
#      replay, and one after setting the view's all_messages to LZ4
#      compression, which the processor's writes use (enriched_row_writer.h).
#      BENCH_REPLAY_ARGS: extra arguments for `replay`;
#   (g) BENCH_SECOND_VIEW=1: a second, declared view added to the running
#      pipeline (sql/views/support_user_rollup.sql, per subscriber): `migrate
#      --view` + `run --view` in a group of its own, timed from migrate until
#      its stored offsets reach the ends of the two topics it reads, against
#      one REFRESH ... CONCURRENTLY (and one REFRESH) of the same SQL as a
#      materialized view on the same data; then its table compared with that
#      view (EXCEPT ALL both ways); its processor's peak RSS;
#   9. (e) BENCH_SMALL=1: the same data at 1/BENCH_SMALL_FACTOR in a second
#      database with its own enrich-cdc and processor, and the same burst.
#
# Environment (defaults in brackets):
#   BENCH_CONVERSATIONS [200000]  BENCH_MESSAGES [2000000]
#   BENCH_SUBSCRIBERS [50000]     BENCH_ISSUES [20000]
#   BENCH_FANOUT [5000]           BENCH_BURST [1000]       BENCH_BODY_BYTES [300]
#   BENCH_RATES ["1000 2000 3000 4000 5000"] (changes/s)   BENCH_RATE_SECONDS [30]
#                                 (BENCH_RATES="": skip (b))
#   BENCH_CHANGES_PER_TX [10]     BENCH_CEILING_ROWS [5000]
#   BENCH_CHANGE_KIND [edit]      (b)'s changes: edit (the first message of a
#                                 random conversation, processor_pgbench.sql),
#                                 insert (a new message in a random
#                                 conversation, processor_pgbench_insert.sql)
#                                 or conversation (status and synced_at of a
#                                 random conversation,
#                                 processor_pgbench_conversation.sql)
#   BENCH_SMALL [1]               BENCH_SMALL_FACTOR [10]
#   BENCH_REPLAY [1]              BENCH_REPLAY_ARGS [""]    (BENCH_REPLAY=0: skip (c))
#   BENCH_FIRST_START [1]         (BENCH_FIRST_START=0: skip (f))
#   BENCH_SECOND_VIEW [1]         (BENCH_SECOND_VIEW=0: skip (g))
#   BENCH_VERIFY_FULL [1]         BENCH_FSYNC [on]          BENCH_TIMEOUT [300]
#   BENCH_KEEP [0]                1: keep the state dir (logs, metrics)
#   BENCH_FIGURES [""]            a file: also write each figure there as one
#                                 `name=value` line (the number alone, no unit),
#                                 for tests/bench/suite.sh
#   ENRICH_CDC_BIN, ENRICH_PROCESSOR_BIN   binaries [build-pbench/bin, else
#                                 build/bin]; copied into the state dir first
#   ENRICH_CONTRACT_DIR           [../shared/contract beside the repo, or
#                                 beside the checkout it was cloned from]
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
bench_dir="$root/tests/bench"
source "$root/deploy/lib/services.sh"

conversations=${BENCH_CONVERSATIONS:-200000}
messages=${BENCH_MESSAGES:-2000000}
subscribers=${BENCH_SUBSCRIBERS:-50000}
issues=${BENCH_ISSUES:-20000}
fanout=${BENCH_FANOUT:-5000}
burst=${BENCH_BURST:-1000}
body_bytes=${BENCH_BODY_BYTES:-300}
rates=${BENCH_RATES-1000 2000 3000 4000 5000}
per_tx=${BENCH_CHANGES_PER_TX:-10}
change_kind=${BENCH_CHANGE_KIND:-edit}
case "$change_kind" in
  edit) pgbench_script=processor_pgbench.sql; change_words="edits the first message of" ;;
  insert) pgbench_script=processor_pgbench_insert.sql; change_words="adds a message to" ;;
  conversation) pgbench_script=processor_pgbench_conversation.sql; change_words="updates the status of" ;;
  *) echo "bench: BENCH_CHANGE_KIND is edit|insert|conversation" >&2; exit 2 ;;
esac
ceiling_rows=${BENCH_CEILING_ROWS:-5000}
rate_seconds=${BENCH_RATE_SECONDS:-30}
small=${BENCH_SMALL:-1}
small_factor=${BENCH_SMALL_FACTOR:-10}
replay=${BENCH_REPLAY:-1}
replay_args=${BENCH_REPLAY_ARGS:-}
first_start=${BENCH_FIRST_START:-1}
second_view=${BENCH_SECOND_VIEW:-1}
verify_full=${BENCH_VERIFY_FULL:-1}
fsync=${BENCH_FSYNC:-on}
wait_timeout=${BENCH_TIMEOUT:-300}
keep=${BENCH_KEEP:-0}
source "$root/deploy/lib/contract.sh"
contract=$(contract_dir "$root")
for r in $rates; do
  [[ "$r" =~ ^[0-9]+$ ]] || { echo "bench: BENCH_RATES is a list of whole numbers" >&2; exit 2; }
done
for v in conversations messages subscribers issues fanout burst body_bytes \
         rate_seconds small small_factor replay first_start verify_full wait_timeout \
         per_tx ceiling_rows; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "bench: $v must be a whole number" >&2; exit 2; }
done
((conversations >= 10 && subscribers >= 1 && issues >= 1)) || {
  echo "bench: need at least 10 conversations, 1 subscriber, 1 issue" >&2; exit 2; }
((fanout >= 1 && fanout < conversations)) || {
  echo "bench: BENCH_FANOUT must be in 1..BENCH_CONVERSATIONS-1" >&2; exit 2; }
((burst >= 1 && burst <= conversations - fanout)) || {
  echo "bench: BENCH_BURST must be in 1..BENCH_CONVERSATIONS-BENCH_FANOUT" >&2; exit 2; }
((body_bytes >= 20 && body_bytes <= 800)) || {
  echo "bench: BENCH_BODY_BYTES must be in 20..800" >&2; exit 2; }
[[ "$fsync" == on || "$fsync" == off ]] || { echo "bench: BENCH_FSYNC is on|off" >&2; exit 2; }

find_bin() {
  local name=$1 override=$2 c
  if [[ -n "$override" ]]; then echo "$override"; return; fi
  for c in "$root/build-pbench/bin/$name" "$root/build/bin/$name"; do
    [[ -x "$c" ]] && { echo "$c"; return; }
  done
}
cdc_src=$(find_bin enrich-cdc "${ENRICH_CDC_BIN:-}")
proc_src=$(find_bin enrich-processor "${ENRICH_PROCESSOR_BIN:-}")
[[ -n "$cdc_src" && -x "$cdc_src" && -n "$proc_src" && -x "$proc_src" ]] || {
  echo "bench: enrich-cdc / enrich-processor not built (cmake --build build-pbench" \
       "--target enrich-cdc enrich-processor) or set ENRICH_CDC_BIN/ENRICH_PROCESSOR_BIN" >&2
  exit 2; }
[[ -f "$contract/source_schema.sql" && -f "$contract/enriched_reference.sql" ]] || {
  echo "bench: contract not found in $contract (set ENRICH_CONTRACT_DIR)" >&2; exit 2; }
[[ -x "$(pg_bindir)/pgbench" || -z "${rates// /}" ]] || {
  echo "bench: pgbench not found (or set BENCH_RATES=)" >&2; exit 2; }

pgbin=$(pg_bindir)
state=$(mktemp -d "${TMPDIR:-/tmp}/enrich-pbench.XXXXXX")
chmod 755 "$state"
cp "$cdc_src" "$state/enrich-cdc"; cp "$proc_src" "$state/enrich-processor"
cdc_bin="$state/enrich-cdc"; proc_bin="$state/enrich-processor"
started_pg=0 started_kafka=0 base_dsn="" brokers=""
declare -a pids=()              # every enrich-* process we started
declare -A results=()           # key -> value, printed at the end

log() { echo "bench: $(date +%T) $*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
dsn_of() { echo "$base_dsn" | sed "s/dbname=[^ ]*/dbname=$1/"; }
psql_db() { local db=$1; shift; "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -d "$(dsn_of "$db")" "$@"; }
psql_val() { "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -At -d "$(dsn_of "$1")" -c "$2"; }
clk_tck=$(getconf CLK_TCK)
# CPU ticks (user + system) of a pid and its direct children (PostgreSQL:
# pass the postmaster to get every backend, walsenders included).
cpu_ticks_tree() {
  cat /proc/[0-9]*/stat 2>/dev/null |
    awk -v r="$1" '{ pid = $1; sub(/^.*\) /, ""); if (pid == r || $2 == r) s += $12 + $13 }
                   END { printf "%.0f", s + 0 }'
}
# "busy total" jiffies of the whole machine.
machine_ticks() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t; exit }' /proc/stat; }
vmhwm_mb() { awk '/^VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || true; }

stop_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && { log "pid $pid did not stop in 10 s; killing"; kill -KILL "$pid"; }
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$? p
  set +e
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do stop_pid "$p"; done
  [[ -n "${pgbench_pid:-}" ]] && stop_pid "$pgbench_pid"
  ((started_kafka)) && kafka_stop "$state"
  if ((started_pg)); then
    local data; data=$(pg_datadir "$state")
    pg_stop "$state"
    ((keep)) || case "$data" in /var/tmp/enrich-pg-*) rm -rf "$(dirname "$data")" ;; esac
  fi
  if ((keep)); then log "state kept in $state"; else rm -rf "$state"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- servers -----------------------------------------------------------------
log "starting PostgreSQL 15 (fsync=$fsync) and Kafka under $state"
started_pg=1
pg_start "$state" "$(free_port)" "$fsync" >&2
base_dsn=$(pg_dsn "$state")
started_kafka=1
kafka_port=$(free_port); controller_port=$(free_port)
while [[ "$controller_port" == "$kafka_port" ]]; do controller_port=$(free_port); done
kafka_start "$state" "$kafka_port" "$controller_port" >&2
brokers=$(kafka_brokers "$state")
psql_db enrich -c "ALTER SYSTEM SET max_wal_size = '8GB'" -c "ALTER SYSTEM SET checkpoint_timeout = '15min'" \
  -c "SELECT pg_reload_conf()" >/dev/null
server_version=$(psql_val enrich 'SHOW server_version')

# load_db DB CONVERSATIONS MESSAGES SUBSCRIBERS ISSUES FANOUT
load_db() {
  local db=$1 t0
  [[ "$(psql_val enrich "SELECT count(*) FROM pg_database WHERE datname = '$db'")" == 1 ]] ||
    psql_db enrich -c "CREATE DATABASE $db" >/dev/null
  psql_db "$db" -f "$contract/source_schema.sql" >/dev/null
  psql_db "$db" -c "ALTER TABLE raw_support_conversations REPLICA IDENTITY FULL;
                    ALTER TABLE support_conversation_messages REPLICA IDENTITY FULL;
                    ALTER TABLE subscribers_insights REPLICA IDENTITY FULL;
                    ALTER TABLE linear_issues REPLICA IDENTITY FULL" >/dev/null
  log "[$db] generating $2 conversations, $3 messages, $4 subscribers, $5 issues (fan-out $6)"
  t0=$(now)
  psql_db "$db" -v conversations="$2" -v messages="$3" -v subscribers="$4" -v issues="$5" \
    -v fanout="$6" -v body_bytes="$body_bytes" -f "$bench_dir/processor_data.sql" >/dev/null
  results[$db.generate_s]=$(elapsed "$t0" "$(now)")
  log "[$db] generated in ${results[$db.generate_s]} s; $(psql_val "$db" \
    "SELECT pg_size_pretty(pg_database_size(current_database()))") on disk"
  psql_db "$db" -f "$contract/enriched_reference.sql" >/dev/null
  log "[$db] creating enriched_reference_mv (materialized copy of the reference view)"
  t0=$(now)
  psql_db "$db" -c "CREATE MATERIALIZED VIEW enriched_reference_mv AS
                      SELECT * FROM enriched_support_conversations_reference" \
                -c "CREATE UNIQUE INDEX ON enriched_reference_mv (id)" >/dev/null
  log "[$db] materialized view built in $(elapsed "$t0" "$(now)") s"
  # Server-side wait: returns seconds from p_since until every id has an
  # enriched row written from a batch at or past p_lsn (-1 on timeout). A
  # volatile plpgsql function takes a new snapshot per statement.
  psql_db "$db" >/dev/null <<'SQL'
CREATE TABLE processor_bench_ids (set_name text, id uuid, msg uuid);
CREATE INDEX ON processor_bench_ids (set_name);
CREATE FUNCTION processor_bench_wait(p_set text, p_lsn pg_lsn, p_since timestamptz,
                                     p_timeout float8) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
  ids uuid[] := ARRAY(SELECT id FROM processor_bench_ids WHERE set_name = p_set);
  n int;
BEGIN
  LOOP
    SELECT count(*) INTO n FROM enriched_support_conversations
     WHERE id = ANY(ids) AND source_commit_lsn >= p_lsn;
    IF n >= cardinality(ids) THEN
      RETURN extract(epoch FROM clock_timestamp() - p_since);
    END IF;
    IF clock_timestamp() - p_since > p_timeout * interval '1 second' THEN
      RETURN -1;
    END IF;
    PERFORM pg_sleep(0.005);
  END LOOP;
END $$;
SQL
}

# start_pipeline DB TAG [SNAPSHOT]: enrich-cdc (--snapshot=SNAPSHOT, default
# never), migrate, enrich-processor run. Sets ${TAG}_cdc_pid, ${TAG}_proc_pid,
# ${TAG}_proc_metrics; with SNAPSHOT=initial also results[DB.first_start_s]
# (migrate's start -> drained, the snapshot's rebuild included).
start_pipeline() {
  local db=$1 tag=$2 snapshot=${3:-never} dsn pid i t0 addr first_t0
  dsn=$(dsn_of "$db")
  first_t0=$(now)
  # Only with a snapshot, so binaries older than the option run the others.
  local content_arg=()
  [[ "$snapshot" == never ]] ||
    content_arg=(--snapshot-content="${BENCH_SNAPSHOT_CONTENT:-boundary}")
  log "[$db] starting enrich-cdc (--snapshot=$snapshot ${content_arg[*]})"
  ENRICH_PG_DSN="$dsn" "$cdc_bin" --kafka-brokers="$brokers" --slot="bench_$tag" \
    --publication="bench_$tag" --topic-prefix="bench-$tag" --snapshot="$snapshot" \
    ${content_arg[@]+"${content_arg[@]}"} --metrics-addr=127.0.0.1:0 >"$state/cdc-$tag.log" 2>&1 &
  pid=$!; pids+=("$pid"); printf -v "${tag}_cdc_pid" %s "$pid"
  # With a snapshot the slot is idle until the snapshot is published: wait
  # only until it exists, so migrate and run start while it is published.
  local slot_ready="AND active"
  [[ "$snapshot" == never ]] || slot_ready=""
  for i in $(seq 1 600); do
    [[ "$(psql_val "$db" "SELECT count(*) FROM pg_replication_slots
                          WHERE slot_name = 'bench_$tag' $slot_ready")" == 1 ]] && break
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$state/cdc-$tag.log" >&2; log "enrich-cdc exited"; exit 1; }
    sleep 0.1
  done
  addr=""
  for i in $(seq 1 100); do
    addr=$(grep -m1 "metrics listening" "$state/cdc-$tag.log" 2>/dev/null |
           grep -o '127\.0\.0\.1:[0-9]*' || true)
    [[ -n "$addr" ]] && break
    sleep 0.1
  done
  [[ -n "$addr" ]] || { log "enrich-cdc did not log its metrics address"; exit 1; }
  printf -v "${tag}_cdc_metrics" %s "$addr"
  log "[$db] enrich-processor migrate (backfill)"
  t0=$(now)
  /usr/bin/time -f "%M" -o "$state/migrate-$tag.rss" \
    env ENRICH_PG_DSN="$dsn" "$proc_bin" migrate >"$state/migrate-$tag.log" 2>&1 || {
      tail -n 20 "$state/migrate-$tag.log" >&2; log "migrate failed"; exit 1; }
  results[$db.migrate_s]=$(elapsed "$t0" "$(now)")
  results[$db.migrate_rss_mb]=$(awk '{ printf "%.0f", $1 / 1024 }' "$state/migrate-$tag.rss")
  log "[$db] migrate took ${results[$db.migrate_s]} s"
  log "[$db] starting enrich-processor run"
  ENRICH_PG_DSN="$dsn" "$proc_bin" run --kafka-brokers="$brokers" --topic-prefix="bench-$tag" \
    --group-id="bench-$tag" --metrics-addr=127.0.0.1:0 >"$state/processor-$tag.log" 2>&1 &
  pid=$!; pids+=("$pid"); printf -v "${tag}_proc_pid" %s "$pid"
  addr=""
  for i in $(seq 1 100); do
    addr=$(grep -m1 "metrics listening" "$state/processor-$tag.log" 2>/dev/null |
           grep -o '127\.0\.0\.1:[0-9]*' || true)
    [[ -n "$addr" ]] && break
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$state/processor-$tag.log" >&2; log "processor exited"; exit 1; }
    sleep 0.1
  done
  [[ -n "$addr" ]] || { log "processor did not log its metrics address"; exit 1; }
  printf -v "${tag}_proc_metrics" %s "$addr"
  if [[ "$snapshot" == initial ]]; then
    drain "$db" "$tag" >/dev/null
    results[$db.first_start_s]=$(elapsed "$first_t0" "$(now)")
    log "[$db] first start (enrich-cdc snapshot, migrate, run, drained): ${results[$db.first_start_s]} s;" \
        "processor: $(grep -m1 -E 'msg="(snapshot rebuilt|empty table built)"' "$state/processor-$tag.log" | tr -d '\n' || true)"
  fi
  # Warm-up: one change through the whole pipeline (consumer group joined,
  # partitions assigned, statements prepared).
  local w
  w=$(measure_change "$db" warmup \
        "SELECT md5('c' || i)::uuid, md5('m' || i)::uuid FROM generate_series($conversations_of_db, $conversations_of_db) i" \
        "UPDATE raw_support_conversations c SET status = 'open', updated_at = now()
           FROM processor_bench_ids b WHERE b.set_name = 'warmup' AND c.id = b.id" 120)
  log "[$db] pipeline up; warm-up change applied ${w#* } s after its commit"
}

# drain DB TAG: waits until the pipeline has applied everything committed so
# far: the slot confirmed past the current WAL position (so enrich-cdc has had
# every record acknowledged), then the processor's stored offsets summed over
# its partitions reach enrich-cdc's delivered-record count (this run's topics
# are fresh, so offsets start at 0 and a partition's end offset is its record
# count). Prints the seconds it took.
drain() {
  local db=$1 tag=$2 t0 lsn i cdc_addr proc_stored delivered
  t0=$(now)
  lsn=$(psql_val "$db" "SELECT pg_current_wal_lsn()")
  cdc_addr=${tag}_cdc_metrics; cdc_addr=${!cdc_addr}
  for i in $(seq 1 $((wait_timeout * 20))); do
    [[ "$(psql_val "$db" "SELECT confirmed_flush_lsn >= '$lsn' FROM pg_replication_slots
                          WHERE slot_name = 'bench_$tag'")" == t ]] && break
    sleep 0.05
  done
  delivered=$(curl -fsS "http://$cdc_addr/metrics" |
              sed -n 's/^enrich_cdc_records_delivered_total \([0-9.e+]*\)$/\1/p' |
              awk '{ printf "%.0f", $1 }')
  for i in $(seq 1 $((wait_timeout * 20))); do
    proc_stored=$(psql_val "$db" "SELECT coalesce(sum(next_offset), 0) FROM enrich_processor_offsets
                                  WHERE consumer_group = 'bench-$tag'")
    ((proc_stored >= delivered)) && break
    sleep 0.05
  done
  ((proc_stored >= delivered)) || log "drain: timed out (stored $proc_stored < delivered $delivered)"
  elapsed "$t0" "$(now)"
}

# measure_change DB SET IDS_SELECT CHANGE_SQL TIMEOUT -> prints "write_s applied_s"
# IDS_SELECT yields (conversation id, message id); CHANGE_SQL runs in one
# transaction; applied_s counts from its COMMIT.
measure_change() {
  local db=$1 set=$2 ids_sql=$3 change_sql=$4 timeout=$5
  psql_db "$db" -c "DELETE FROM processor_bench_ids WHERE set_name = '$set'" \
    -c "INSERT INTO processor_bench_ids SELECT '$set', x.* FROM ($ids_sql) x" >/dev/null
  psql_db "$db" -At <<SQL
SELECT clock_timestamp() AS t_start \gset
BEGIN;
$change_sql;
SELECT pg_current_wal_insert_lsn() AS lsn \gset
COMMIT;
SELECT clock_timestamp() AS t_commit \gset
SELECT round(extract(epoch FROM :'t_commit'::timestamptz - :'t_start'::timestamptz)::numeric, 3)
       || ' ' || round(processor_bench_wait('$set', :'lsn', :'t_commit', $timeout)::numeric, 3);
SQL
}

# equal_count DB SET: rows that differ between the enriched table and the
# reference view for the ids of SET (both directions).
equal_diff() {
  local db=$1 where=$2
  psql_val "$db" "WITH e AS (SELECT $cols FROM enriched_support_conversations WHERE $where),
                       r AS (SELECT * FROM enriched_support_conversations_reference WHERE $where)
                  SELECT (SELECT count(*) FROM (SELECT * FROM e EXCEPT ALL SELECT * FROM r) a)
                       + (SELECT count(*) FROM (SELECT * FROM r EXCEPT ALL SELECT * FROM e) b)"
}

# burst DB SET N: N random conversations (not the fan-out user's), one
# message each, one transaction.
run_burst() {
  local db=$1 set=$2 n=$3 convs=$4 fo=$5 r
  r=$(measure_change "$db" "$set" \
      "SELECT md5('c' || i)::uuid, md5('m' || i)::uuid FROM generate_series($((fo + 1)), $convs) i
        ORDER BY random() LIMIT $n" \
      "UPDATE support_conversation_messages m
          SET body = coalesce(m.body, '') || ' [edited in burst $set]', updated_at = now()
         FROM processor_bench_ids b WHERE b.set_name = '$set' AND m.id = b.msg" "$wait_timeout")
  echo "$r"
}

time_refresh() {
  local db=$1 how=$2 t0
  t0=$(now)
  psql_db "$db" -c "REFRESH MATERIALIZED VIEW $how enriched_reference_mv" >/dev/null
  elapsed "$t0" "$(now)"
}

# metric_hist FILE NAME: "le count" lines of a histogram.
metric_hist() {
  sed -n "s/^$2_bucket{[^}]*le=\"\([^\"]*\)\"[^}]*} \([0-9.e+]*\)$/\1 \2/p" "$1"
}
# quantile Q BEFORE AFTER NAME: from the difference of two scrapes,
# linearly interpolated within the bucket (as Prometheus' histogram_quantile),
# followed by the bucket's bounds: the histogram's buckets double, so the
# bounds are what is actually known.
quantile() {
  join <(metric_hist "$2" "$4" | sort) <(metric_hist "$3" "$4" | sort) |
    awk -v q="$1" '{ le = ($1 == "+Inf") ? 1e30 : $1; print le, $3 - $2 }' | sort -g |
    awk -v q="$1" '{ le[NR] = $1; c[NR] = $2 } END {
      total = c[NR]; if (total <= 0) { print "n/a"; exit }
      want = q * total; prev_le = 0; prev_c = 0
      for (i = 1; i <= NR; i++) {
        if (c[i] >= want) {
          if (le[i] >= 1e30) { printf ">%s", prev_le; exit }
          f = (c[i] > prev_c) ? (want - prev_c) / (c[i] - prev_c) : 1
          printf "%.3f (%s-%s)", prev_le + f * (le[i] - prev_le), prev_le, le[i]; exit
        }
        prev_le = le[i]; prev_c = c[i]
      } }'
}
hist_count() { sed -n "s/^$2_count\(\|{[^}]*}\) \([0-9.e+]*\)$/\2/p" "$1" | head -n 1; }

# ============================================================================
db=enrich
conversations_of_db=$conversations
load_db "$db" "$conversations" "$messages" "$subscribers" "$issues" "$fanout"
cols=$(psql_val "$db" "SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position)
                       FROM information_schema.columns
                       WHERE table_name = 'enriched_support_conversations_reference'")
if ((first_start)); then start_pipeline "$db" main initial; else start_pipeline "$db" main; fi

# --- (a) burst vs REFRESH ------------------------------------------------------
log "(a) burst: one transaction editing one message in each of $burst random conversations"
read -r a_write a_applied < <(run_burst "$db" burst1 "$burst" "$conversations" "$fanout")
((${a_applied%.*} >= 0)) || { log "burst not applied within $wait_timeout s"; exit 1; }
a_diff=$(equal_diff "$db" "id = ANY(ARRAY(SELECT id FROM processor_bench_ids WHERE set_name = 'burst1'))")
log "(a) burst: write ${a_write} s, applied ${a_applied} s after commit, rows differing from reference: $a_diff"
log "(a) REFRESH MATERIALIZED VIEW enriched_reference_mv"
a_refresh=$(time_refresh "$db" "")
log "(a) REFRESH: $a_refresh s; now REFRESH ... CONCURRENTLY"
a_refresh_conc=$(time_refresh "$db" CONCURRENTLY)
log "(a) REFRESH CONCURRENTLY: $a_refresh_conc s"
# The same burst again, now with the refreshes' WAL decoded and nothing cold.
read -r a2_write a2_applied < <(run_burst "$db" burst2 "$burst" "$conversations" "$fanout")
a2_diff=$(equal_diff "$db" "id = ANY(ARRAY(SELECT id FROM processor_bench_ids WHERE set_name = 'burst2'))")
log "(a) second burst: write ${a2_write} s, applied ${a2_applied} s, differing rows: $a2_diff"

# --- (d) fan-out ----------------------------------------------------------------
log "(d) subscribers_insights update of user-hot (fan-out to $fanout conversations)"
read -r d_write d_applied < <(measure_change "$db" fanout \
  "SELECT id, NULL::uuid FROM raw_support_conversations WHERE user_id = 'user-hot'" \
  "UPDATE subscribers_insights SET app_sessions = app_sessions + 1, income = 'changed-' || app_sessions,
          updated_at = now() WHERE distinct_id = 'user-hot'" "$wait_timeout")
d_n=$(psql_val "$db" "SELECT count(*) FROM processor_bench_ids WHERE set_name = 'fanout'")
d_diff=$(equal_diff "$db" "user_id = 'user-hot'")
log "(d) fan-out to $d_n conversations applied ${d_applied} s after commit, differing rows: $d_diff"

# --- (g) a second view added to the running pipeline ------------------------------
g_build=""
if ((second_view)); then
  rollup_file="$root/sql/views/support_user_rollup.sql"
  log "(g) the rollup's SQL as a materialized view, and its refreshes"
  sed 's/CREATE MATERIALIZED VIEW support_user_rollup AS/CREATE MATERIALIZED VIEW support_user_rollup_mv AS/' \
    "$rollup_file" | psql_db "$db" >/dev/null
  psql_db "$db" -c "CREATE UNIQUE INDEX ON support_user_rollup_mv (distinct_id)" >/dev/null
  g_refresh_conc=$(t0=$(now); psql_db "$db" -c "REFRESH MATERIALIZED VIEW CONCURRENTLY support_user_rollup_mv" >/dev/null; elapsed "$t0" "$(now)")
  g_refresh=$(t0=$(now); psql_db "$db" -c "REFRESH MATERIALIZED VIEW support_user_rollup_mv" >/dev/null; elapsed "$t0" "$(now)")
  log "(g) REFRESH CONCURRENTLY $g_refresh_conc s, REFRESH $g_refresh s"
  # The ends of the two topics it reads: the main group's offsets once
  # drained (the topics are this run's, nothing is written meanwhile).
  log "(g) main pipeline drained in $(drain "$db" main) s"
  g_topics="'bench-main.public.subscribers_insights', 'bench-main.public.raw_support_conversations'"
  g_target=$(psql_val "$db" "SELECT coalesce(sum(next_offset), 0) FROM enrich_processor_offsets
                             WHERE consumer_group = 'bench-main' AND topic IN ($g_topics)")
  g_t0=$(now)
  ENRICH_PG_DSN="$(dsn_of "$db")" "$proc_bin" migrate --view="$rollup_file" --group-id=bench-rollup \
    >"$state/migrate-rollup.log" 2>&1 || { tail -n 20 "$state/migrate-rollup.log" >&2; log "(g) migrate --view failed"; exit 1; }
  g_migrate=$(elapsed "$g_t0" "$(now)")
  ENRICH_PG_DSN="$(dsn_of "$db")" "$proc_bin" run --view="$rollup_file" --kafka-brokers="$brokers" \
    --topic-prefix=bench-main --group-id=bench-rollup --metrics-addr=127.0.0.1:0 \
    >"$state/processor-rollup.log" 2>&1 &
  rollup_pid=$!; pids+=("$rollup_pid")
  for i in $(seq 1 $((wait_timeout * 20))); do
    g_stored=$(psql_val "$db" "SELECT coalesce(sum(next_offset), 0) FROM enrich_processor_offsets
                               WHERE consumer_group = 'bench-rollup'")
    ((g_stored >= g_target)) && break
    kill -0 "$rollup_pid" 2>/dev/null || { tail -n 20 "$state/processor-rollup.log" >&2; log "(g) processor exited"; exit 1; }
    sleep 0.05
  done
  ((g_stored >= g_target)) || { log "(g) not drained in $wait_timeout s ($g_stored < $g_target)"; exit 1; }
  g_build=$(elapsed "$g_t0" "$(now)")
  g_rows=$(psql_val "$db" "SELECT count(*) FROM support_user_rollup")
  g_cols="distinct_id, conversations, open_conversations, last_activity_at, latest_titles"
  g_diff=$(psql_val "$db" "SELECT (SELECT count(*) FROM (SELECT $g_cols FROM support_user_rollup EXCEPT ALL
                                                         SELECT $g_cols FROM support_user_rollup_mv) a)
                                + (SELECT count(*) FROM (SELECT $g_cols FROM support_user_rollup_mv EXCEPT ALL
                                                         SELECT $g_cols FROM support_user_rollup) b)")
  g_rss=$(vmhwm_mb "$rollup_pid")
  stop_pid "$rollup_pid"
  log "(g) second view built and drained in $g_build s (migrate --view $g_migrate s; $g_rows rows), rows differing from its view: $g_diff, peak RSS $g_rss MB"
  # Where the time went: the processor's own lines (build, consumer up).
  grep -E 'msg="(maintaining a declared view|snapshot rebuilt|empty table built|consuming|partitions assigned)' \
    "$state/processor-rollup.log" | cut -c1-240 | sed 's/^/bench: (g)   /' >&2 || true
fi

# --- (b) sustained rate ---------------------------------------------------------
# sustained RATE: sets b_tps[RATE] b_events[RATE] b_p50/p99/p999[RATE] b_drain[RATE] b_lag[RATE]
declare -A b_tps=() b_events=() b_p50=() b_p99=() b_p999=() b_drain=() b_lag=() b_cpu=() b_batch=()
hist_sum() { sed -n "s/^$2_sum\(\|{[^}]*}\) \([0-9.e+-]*\)$/\2/p" "$1" | head -n 1; }
sustained() {
  local r=$1 pid out="$state/pgbench-$1.out" before="$state/metrics-before-$1.txt"
  local after="$state/metrics-after-$1.txt" max_lag=0 l t_end
  local name=enrich_processor_freshness_seconds
  local tps=$(((r + per_tx - 1) / per_tx))
  log "(b) $r changes/s: pgbench --rate $tps for $rate_seconds s (each tx $change_words $per_tx random conversations)"
  curl -fsS "http://$main_proc_metrics/metrics" >"$before"
  local pm kpid c0 c1 m0 m1 t0 secs
  pm=$(head -n 1 "$(pg_datadir "$state")/postmaster.pid"); kpid=$(kafka_pid "$state" || echo 0)
  c0="$(cpu_ticks_tree "$main_proc_pid") $(cpu_ticks_tree "$main_cdc_pid") $(cpu_ticks_tree "$kpid") $(cpu_ticks_tree "$pm")"
  m0=$(machine_ticks); t0=$(now)
  "$pgbin/pgbench" -n -d "$(dsn_of "$db")" -f "$bench_dir/$pgbench_script" \
    -D nconv="$conversations" -D per_tx="$per_tx" --rate="$tps" -T "$rate_seconds" \
    -c 8 -j 2 >"$out" 2>&1 &
  pid=$!; pgbench_pid=$pid
  # Age of the newest applied source commit, sampled every second.
  while kill -0 "$pid" 2>/dev/null; do
    l=$(curl -fsS "http://$main_proc_metrics/metrics" 2>/dev/null |
        sed -n 's/^enrich_processor_last_freshness_seconds \([0-9.e+-]*\)$/\1/p' || true)
    [[ -n "$l" ]] && max_lag=$(awk -v a="$max_lag" -v b="$l" 'BEGIN { print (b > a) ? b : a }')
    sleep 1
  done
  c1="$(cpu_ticks_tree "$main_proc_pid") $(cpu_ticks_tree "$main_cdc_pid") $(cpu_ticks_tree "$kpid") $(cpu_ticks_tree "$pm")"
  m1=$(machine_ticks)
  wait "$pid" || { cat "$out" >&2; log "pgbench failed"; exit 1; }
  pgbench_pid=""
  t_end=$(now)
  secs=$(elapsed "$t0" "$t_end")
  b_cpu[$r]=$(awk -v a="$c0" -v b="$c1" -v ma="$m0" -v mb="$m1" -v t="$secs" -v hz="$clk_tck" 'BEGIN {
      split(a, x, " "); split(b, y, " "); split(ma, p, " "); split(mb, q, " ")
      printf "processor %.0f%%, cdc %.0f%%, kafka %.0f%%, postgres %.0f%%; machine %.0f%% busy",
        100 * (y[1] - x[1]) / hz / t, 100 * (y[2] - x[2]) / hz / t, 100 * (y[3] - x[3]) / hz / t,
        100 * (y[4] - x[4]) / hz / t, 100 * (q[1] - p[1]) / (q[2] - p[2]) }')
  drain "$db" main >/dev/null
  curl -fsS "http://$main_proc_metrics/metrics" >"$after"
  b_drain[$r]=$(elapsed "$t_end" "$(now)")
  b_lag[$r]=$(printf "%.3f" "$max_lag")
  # Achieved changes/s: transactions/s times the changes each one makes.
  b_tps[$r]=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$out" | head -n 1 |
              awk -v k="$per_tx" '{ printf "%.0f", $1 * k }')
  b_events[$r]=$(awk -v a="$(hist_count "$before" $name)" -v b="$(hist_count "$after" $name)" \
                 'BEGIN { print b - a }')
  b_batch[$r]=$(awk -v n0="$(hist_count "$before" enrich_processor_batch_records)" \
      -v n1="$(hist_count "$after" enrich_processor_batch_records)" \
      -v r0="$(hist_sum "$before" enrich_processor_batch_records)" -v r1="$(hist_sum "$after" enrich_processor_batch_records)" \
      -v s0="$(hist_sum "$before" enrich_processor_batch_apply_seconds)" \
      -v s1="$(hist_sum "$after" enrich_processor_batch_apply_seconds)" 'BEGIN {
        n = n1 - n0; if (n <= 0) { print "n/a"; exit }
        printf "%d batches, %.0f records/batch, %.3f s apply/batch", n, (r1 - r0) / n, (s1 - s0) / n }')
  b_p50[$r]=$(quantile 0.50 "$before" "$after" $name)
  b_p99[$r]=$(quantile 0.99 "$before" "$after" $name)
  b_p999[$r]=$(quantile 0.999 "$before" "$after" $name)
  log "(b) rate $r: pgbench reached ${b_tps[$r]} changes/s; ${b_events[$r]} events; freshness p50 ${b_p50[$r]} s p99 ${b_p99[$r]} s; drained ${b_drain[$r]} s after"
}

# ceiling_upsert SOURCE_SQL: seconds of one INSERT .. ON CONFLICT DO UPDATE of
# the reference columns of every row SOURCE_SQL yields, in a transaction
# rolled back afterwards (psql's \timing of that statement).
# ceiling_cols / ceiling_sets: the reference's column list and its SET list.
ceiling_upsert() {
  local out
  out=$(psql_db "$db" -c '\timing on' -c "BEGIN" \
          -c "INSERT INTO enriched_support_conversations ($ceiling_cols)
              SELECT $ceiling_cols FROM ($1) s
              ON CONFLICT (id) DO UPDATE SET $ceiling_sets" -c "ROLLBACK")
  # The INSERT is by far the slowest of the three timed statements.
  awk '/^Time: / && $2 > max { max = $2 } END { printf "%.3f", max / 1000 }' <<<"$out"
}
c_pre="" c_agg=""
if [[ -n "${rates// /}" ]]; then
  log "(b) ceilings: batched upsert of $ceiling_rows rows, precomputed and re-aggregated"
  ceiling_cols=$(psql_val "$db" "SELECT string_agg(quote_ident(column_name), ', '
                                                 ORDER BY ordinal_position)
                                 FROM information_schema.columns
                                 WHERE table_name = 'enriched_support_conversations_reference'")
  ceiling_sets=$(psql_val "$db" "SELECT string_agg(format('%1\$I = EXCLUDED.%1\$I', column_name),
                                                 ', ' ORDER BY ordinal_position)
                                 FROM information_schema.columns
                                 WHERE table_name = 'enriched_support_conversations_reference'
                                   AND column_name <> 'id'")
  psql_db "$db" -c "SET client_min_messages = warning" \
    -c "DROP TABLE IF EXISTS bench_ceiling_ids, bench_ceiling_rows" \
    -c "CREATE UNLOGGED TABLE bench_ceiling_ids AS
          SELECT id FROM raw_support_conversations ORDER BY random() LIMIT $ceiling_rows" \
    -c "CREATE UNLOGGED TABLE bench_ceiling_rows AS
          SELECT r.* FROM bench_ceiling_ids i,
               LATERAL (SELECT * FROM enriched_support_conversations_reference v
                        WHERE v.id = i.id) r" >/dev/null
  c_pre=$(ceiling_upsert "SELECT * FROM bench_ceiling_rows")
  # Re-aggregated: each row computed from its conversation, subscriber,
  # issue and messages by per-id lookups (filtering the view by id instead
  # makes PostgreSQL aggregate every message).
  c_agg=$(ceiling_upsert "SELECT c.id, c.source, c.external_id, c.title, c.description,
      c.status, c.priority, c.created_at, c.updated_at, c.resolved_at, c.user_uuid,
      c.user_id, c.assignee_id, c.tags, c.custom_fields, c.raw_data, c.synced_at,
      c.has_linear_ticket, c.linear_issue_id, c.linear_custom_field_id,
      u.income, u.net_worth, u.investing_activity, u.total_copies,
      u.total_subscriptions, u.app_sessions,
      m.message_count, m.last_message_at, m.all_messages,
      li.identifier AS linear_identifier, li.title AS linear_title,
      li.state_name AS linear_state_name, li.url AS linear_url
    FROM bench_ceiling_ids i
    JOIN raw_support_conversations c ON c.id = i.id
    LEFT JOIN subscribers_insights u ON u.distinct_id = c.user_id
    LEFT JOIN linear_issues li ON li.id = c.linear_issue_id
    CROSS JOIN LATERAL (
      SELECT count(sm.id)::integer AS message_count, max(sm.created_at) AS last_message_at,
             array_agg(sm.body ORDER BY sm.created_at, sm.id)
               FILTER (WHERE sm.body IS NOT NULL) AS all_messages
        FROM support_conversation_messages sm WHERE sm.conversation_id = c.id) m")
  psql_db "$db" -c "DROP TABLE bench_ceiling_ids, bench_ceiling_rows" >/dev/null
  log "(b) ceilings: precomputed $c_pre s, re-aggregated $c_agg s for $ceiling_rows rows"
fi
for r in $rates; do if ((r > 0)); then sustained "$r"; fi; done
# The highest requested rate that pgbench reached (within 5%) with p99 < 1 s.
b_best="none"
for r in $rates; do
  [[ -n "${b_p99[$r]:-}" && "${b_p99[$r]}" != "n/a" ]] || continue
  if awk -v p="${b_p99[$r]}" -v got="${b_tps[$r]}" -v want="$r" \
       'BEGIN { exit !(p < 1 && got >= 0.95 * want) }'; then b_best=$r; fi
done

# --- full check --------------------------------------------------------------------
full_diff="skipped"
if ((verify_full)); then
  log "comparing the whole enriched table with the reference view"
  log "drained in $(drain "$db" main) s"
  full_diff=$(equal_diff "$db" "true")
  if [[ "$full_diff" != 0 ]]; then
    psql_val "$db" "SELECT id FROM (SELECT $cols FROM enriched_support_conversations
                      EXCEPT ALL SELECT * FROM enriched_support_conversations_reference) d" \
      >"$state/differing-ids.txt"
    log "differing ids in $state/differing-ids.txt: $(head -n 5 "$state/differing-ids.txt" | tr '\n' ' ')"
    sleep 5
    full_diff="$full_diff (5 s later: $(equal_diff "$db" "true"))"
  fi
  log "rows differing: $full_diff"
fi

main_cdc_rss=$(vmhwm_mb "$main_cdc_pid"); main_proc_rss=$(vmhwm_mb "$main_proc_pid")
main_rows=$(psql_val "$db" "SELECT count(*) FROM enriched_support_conversations")
stop_pid "$main_proc_pid"; stop_pid "$main_cdc_pid"

# --- (c) rebuild by replay vs REFRESH ------------------------------------------------
c_row=""
if ((replay)); then
  log "(c) enrich-cdc --snapshot=initial --snapshot-content=rows (slot bench_snap, topics bench-snap.*): snapshot of every source row"
  t0=$(now)
  ENRICH_PG_DSN="$(dsn_of "$db")" "$cdc_bin" --kafka-brokers="$brokers" --slot=bench_snap \
    --publication=bench_snap --topic-prefix=bench-snap --snapshot=initial \
    --snapshot-content=rows --metrics-addr=127.0.0.1:0 >"$state/cdc-snap.log" 2>&1 &
  snap_pid=$!; pids+=("$snap_pid")
  for i in $(seq 1 $((wait_timeout * 10))); do
    grep -q 'snapshot published' "$state/cdc-snap.log" 2>/dev/null && break
    kill -0 "$snap_pid" 2>/dev/null || { tail -n 20 "$state/cdc-snap.log" >&2; log "enrich-cdc (snapshot) exited"; exit 1; }
    sleep 0.1
  done
  grep -q 'snapshot published' "$state/cdc-snap.log" || { log "(c) snapshot not published in $wait_timeout s"; exit 1; }
  c_snapshot=$(elapsed "$t0" "$(now)")
  stop_pid "$snap_pid"
  psql_db "$db" -c "SELECT pg_drop_replication_slot('bench_snap')" >/dev/null
  c_events=$(grep -m1 'snapshot published' "$state/cdc-snap.log" | grep -o 'rows=[0-9]*' | head -n 1 || true)
  log "(c) snapshot published in $c_snapshot s ${c_events}; emptying the enriched table"
  psql_db "$db" -c "TRUNCATE enriched_support_conversations" \
    -c "DELETE FROM enrich_processor_offsets WHERE consumer_group = 'bench-snap.replay'" \
    -c "CHECKPOINT" >/dev/null
  log "(c) enrich-processor replay --from-beginning $replay_args"
  t0=$(now)
  # shellcheck disable=SC2086  # BENCH_REPLAY_ARGS is a list of arguments
  /usr/bin/time -f "%M" -o "$state/replay.rss" env ENRICH_PG_DSN="$(dsn_of "$db")" \
    "$proc_bin" replay --from-beginning --kafka-brokers="$brokers" --topic-prefix=bench-snap \
    --group-id=bench-snap --metrics-addr=127.0.0.1:0 $replay_args >"$state/replay.log" 2>&1 || {
      tail -n 20 "$state/replay.log" >&2; log "(c) replay failed"; exit 1; }
  c_replay=$(elapsed "$t0" "$(now)")
  c_rss=$(awk '{ printf "%.0f", $1 / 1024 }' "$state/replay.rss")
  c_replayed=$(grep -m1 'replay finished' "$state/replay.log" | grep -o 'events=[0-9]*' || true)
  # Seconds in the writer's statements, summed over the replay's batches
  # (the rest is startup, consuming and planning).
  c_batches=$(grep -c 'msg="replay batch"' "$state/replay.log" || true)
  c_write=$(sed -n 's/.*msg="replay batch".* write_s=\([0-9.]*\).*/\1/p' "$state/replay.log" |
            awk '{ s += $1 } END { printf "%.2f", s }')
  c_rows=$(psql_val "$db" "SELECT count(*) FROM enriched_support_conversations")
  c_diff=$(equal_diff "$db" "true")
  log "(c) replay: $c_replay s (${c_replayed}), $c_rows rows, differing from reference: $c_diff"
  c_refresh=$(time_refresh "$db" "")
  log "(c) REFRESH right after the replay: $c_refresh s"
  # The processor's sessions compress all_messages with LZ4
  # (default_toast_compression, enriched_row_writer.h); the view's column
  # uses the server default, pglz. The same REFRESH with LZ4, so the
  # comparison also shows what that alone gives a REFRESH.
  psql_db "$db" -c "ALTER MATERIALIZED VIEW enriched_reference_mv ALTER COLUMN all_messages SET COMPRESSION lz4" >/dev/null
  c_refresh_lz4=$(time_refresh "$db" "")
  log "(c) REFRESH with the view's all_messages in LZ4: $c_refresh_lz4 s"
  c_row=1
fi

# --- (e) 1/N of the data -------------------------------------------------------------
e_row=""
if ((small)); then
  sdb=enrich_small
  s_conv=$((conversations / small_factor)); s_msg=$((messages / small_factor))
  s_sub=$(( (subscribers / small_factor) > 0 ? subscribers / small_factor : 1 ))
  s_iss=$(( (issues / small_factor) > 0 ? issues / small_factor : 1 ))
  s_fan=$(( (fanout / small_factor) > 0 ? fanout / small_factor : 1 ))
  if ((burst <= s_conv - s_fan)); then
    load_db "$sdb" "$s_conv" "$s_msg" "$s_sub" "$s_iss" "$s_fan"
    conversations_of_db=$s_conv
    start_pipeline "$sdb" small
    read -r e_write e_applied < <(run_burst "$sdb" burst1 "$burst" "$s_conv" "$s_fan")
    e_diff=$(equal_diff "$sdb" "id = ANY(ARRAY(SELECT id FROM processor_bench_ids WHERE set_name = 'burst1'))")
    read -r e2_write e2_applied < <(run_burst "$sdb" burst2 "$burst" "$s_conv" "$s_fan")
    e_refresh=$(time_refresh "$sdb" "")
    e_refresh_conc=$(time_refresh "$sdb" CONCURRENTLY)
    log "(e) 1/$small_factor data: burst applied $e_applied s / $e2_applied s, differing $e_diff; REFRESH $e_refresh s, CONCURRENTLY $e_refresh_conc s"
    e_row=1
    small_proc_rss=$(vmhwm_mb "$small_proc_pid"); small_cdc_rss=$(vmhwm_mb "$small_cdc_pid")
    stop_pid "$small_proc_pid"; stop_pid "$small_cdc_pid"
  else
    log "(e) skipped: BENCH_BURST larger than the small data set"
  fi
fi

# --- table -----------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0fx", a / b; else print "n/a" }'; }
echo
echo "enrich-processor benchmark ($(nproc) CPUs, PostgreSQL $server_version, fsync=$fsync)"
echo "data: $conversations conversations, $messages messages (bodies ~$body_bytes B), $subscribers subscribers, $issues Linear issues; generated in ${results[enrich.generate_s]} s"
echo "enriched rows: $main_rows; migrate (backfill) ${results[enrich.migrate_s]} s, peak RSS ${results[enrich.migrate_rss_mb]} MB"
echo
printf "%-66s %s\n" "measure" "value"
printf "%-66s %s\n" "-------" "-----"
printf "%-66s %s s\n" "(a) burst $burst conversations: UPDATE + COMMIT" "$a_write"
printf "%-66s %s s\n" "(a) burst: COMMIT -> all $burst enriched rows updated" "$a_applied"
printf "%-66s %s s\n" "(a) second burst (after the refreshes): COMMIT -> applied" "$a2_applied"
printf "%-66s %s / %s\n" "(a) rows differing from the reference (burst 1 / burst 2)" "$a_diff" "$a2_diff"
printf "%-66s %s s\n" "(a) REFRESH MATERIALIZED VIEW" "$a_refresh"
printf "%-66s %s s\n" "(a) REFRESH MATERIALIZED VIEW CONCURRENTLY" "$a_refresh_conc"
printf "%-66s %s / %s\n" "(a) ratio REFRESH / burst applied (burst 1)" "$(ratio "$a_refresh" "$a_applied")" "$(ratio "$a_refresh_conc" "$a_applied") (concurrently)"
printf "%-66s %s s\n" "(d) fan-out: 1 subscriber -> $d_n conversations, COMMIT -> applied" "$d_applied"
printf "%-66s %s\n" "(d) rows differing from the reference" "$d_diff"
if [[ -n "$c_pre" ]]; then
  printf "%-66s %s s = %s rows/s\n" "(b) ceiling: upsert of $ceiling_rows precomputed rows" "$c_pre" \
    "$(awk -v n="$ceiling_rows" -v t="$c_pre" 'BEGIN { printf "%.0f", n / t }')"
  printf "%-66s %s s = %s rows/s\n" "(b) ceiling: the same, each re-aggregated from its messages" "$c_agg" \
    "$(awk -v n="$ceiling_rows" -v t="$c_agg" 'BEGIN { printf "%.0f", n / t }')"
fi
for r in $rates; do
  [[ -n "${b_tps[$r]:-}" ]] || continue
  printf "%-66s %s changes/s, %s events\n" "(b) asked $r changes/s for $rate_seconds s ($per_tx ${change_kind}s per tx): achieved" "${b_tps[$r]}" "${b_events[$r]}"
  printf "%-66s %s / %s / %s\n" "(b) rate $r: freshness p50 / p99 / p99.9 (bucket), s" "${b_p50[$r]}" "${b_p99[$r]}" "${b_p999[$r]}"
  printf "%-66s %s s\n" "(b) rate $r: max last_freshness_seconds (1 s samples)" "${b_lag[$r]}"
  printf "%-66s %s s\n" "(b) rate $r: drained after pgbench ended" "${b_drain[$r]}"
  printf "%-66s %s\n" "(b) rate $r: CPU (100% = one core), while pgbench ran" "${b_cpu[$r]}"
  printf "%-66s %s\n" "(b) rate $r: processor" "${b_batch[$r]}"
done
[[ -n "${rates// /}" ]] &&
  printf "%-66s %s\n" "(b) highest asked rate reached with freshness p99 < 1 s, changes/s" "$b_best"
printf "%-66s %s\n" "whole table vs reference view, rows differing" "$full_diff"
printf "%-66s %s MB\n" "peak RSS (VmHWM) enrich-processor run" "$main_proc_rss"
printf "%-66s %s MB\n" "peak RSS (VmHWM) enrich-cdc" "$main_cdc_rss"
if ((first_start)); then
  printf "%-66s %s s\n" "(f) first start: enrich-cdc (initial snapshot) + migrate + run -> drained" "${results[enrich.first_start_s]}"
  printf "%-66s %s\n" "(f) ratio first start / REFRESH ... CONCURRENTLY (a) (target <= 1)" \
    "$(awk -v a="${results[enrich.first_start_s]}" -v b="$a_refresh_conc" 'BEGIN { printf "%.2f", a / b }')"
fi
if [[ -n "$g_build" ]]; then
  printf "%-66s %s s (%s rows)\n" "(g) second view (rollup): migrate --view + run --view -> drained" "$g_build" "$g_rows"
  printf "%-66s %s / %s s\n" "(g) its SQL as a materialized view: REFRESH CONCURRENTLY / REFRESH" "$g_refresh_conc" "$g_refresh"
  printf "%-66s %s\n" "(g) ratio build / REFRESH ... CONCURRENTLY (target <= 1)" \
    "$(awk -v a="$g_build" -v b="$g_refresh_conc" 'BEGIN { printf "%.2f", a / b }')"
  printf "%-66s %s\n" "(g) rows differing from its view" "$g_diff"
  printf "%-66s %s MB\n" "(g) peak RSS (VmHWM) enrich-processor run --view" "$g_rss"
fi
if [[ -n "$c_row" ]]; then
  printf "%-66s %s s\n" "(c) enrich-cdc --snapshot=initial: every source row published" "$c_snapshot"
  printf "%-66s %s s (%s, %s rows)\n" "(c) replay --from-beginning into the emptied table: start -> exit" "$c_replay" "${c_replayed:-events=?}" "$c_rows"
  printf "%-66s %s s in %s batch(es); the rest %s s\n" "(c) replay: writing (the writer's statements)" "$c_write" "$c_batches" \
    "$(awk -v a="$c_replay" -v b="$c_write" 'BEGIN { printf "%.2f", a - b }')"
  printf "%-66s %s\n" "(c) whole table vs reference view after the replay, rows differing" "$c_diff"
  printf "%-66s %s s / %s s\n" "(c) REFRESH MATERIALIZED VIEW: in (a) / right after the replay" "$a_refresh" "$c_refresh"
  printf "%-66s %s / %s\n" "(c) ratio replay / REFRESH (target <= 1)" \
    "$(awk -v a="$c_replay" -v b="$a_refresh" 'BEGIN { printf "%.2f", a / b }')" \
    "$(awk -v a="$c_replay" -v b="$c_refresh" 'BEGIN { printf "%.2f", a / b }')"
  printf "%-66s %s s (ratio replay / it %s)\n" "(c) REFRESH with the view's all_messages in LZ4, as the writer's" "$c_refresh_lz4" \
    "$(awk -v a="$c_replay" -v b="$c_refresh_lz4" 'BEGIN { printf "%.2f", a / b }')"
  printf "%-66s %s MB\n" "(c) peak RSS enrich-processor replay" "$c_rss"
fi
if [[ -n "$e_row" ]]; then
  printf "%-66s %s s / %s s\n" "(e) 1/$small_factor data ($s_conv conv, $s_msg msg): burst applied (1st / 2nd)" "$e_applied" "$e2_applied"
  printf "%-66s %s / %s s\n" "(e) 1/$small_factor data: REFRESH / CONCURRENTLY" "$e_refresh" "$e_refresh_conc"
  printf "%-66s %s\n" "(e) 1/$small_factor data: rows differing (burst 1)" "$e_diff"
  printf "%-66s %s MB / %s MB\n" "(e) 1/$small_factor data: peak RSS processor / cdc" "${small_proc_rss:-?}" "${small_cdc_rss:-?}"
fi

# --- machine-readable figures (BENCH_FIGURES=FILE) ------------------------------------
# One `name=value` line per figure: the first word of what the table prints
# (a quantile's bucket bounds and units dropped), so ">5" or "n/a" stay
# visible as such. Names are stable: tests/bench/suite.sh reads them.
if [[ -n "${BENCH_FIGURES:-}" ]]; then
  fig() { if [[ -n "${2:-}" ]]; then printf '%s=%s\n' "$1" "${2%% *}"; fi; }
  # pcts "processor 12%, cdc 3%, ...": the five percentages, space-separated.
  pcts() { grep -o '[0-9.]*%' <<<"$1" | tr -d '%' | tr '\n' ' '; }
  {
    fig conversations "$conversations"; fig messages "$messages"
    fig generate_s "${results[enrich.generate_s]}"
    fig migrate_s "${results[enrich.migrate_s]}"
    fig migrate_rss_mb "${results[enrich.migrate_rss_mb]}"
    fig enriched_rows "$main_rows"
    fig burst_conversations "$burst"
    fig burst_write_s "$a_write"; fig burst_applied_s "$a_applied"
    fig burst2_applied_s "$a2_applied"
    fig burst_rows_differing "$a_diff"; fig burst2_rows_differing "$a2_diff"
    fig refresh_s "$a_refresh"; fig refresh_concurrently_s "$a_refresh_conc"
    fig fanout_conversations "$d_n"; fig fanout_applied_s "$d_applied"
    fig fanout_rows_differing "$d_diff"
    fig ceiling_precomputed_s "$c_pre"; fig ceiling_reaggregated_s "$c_agg"
    for r in $rates; do
      [[ -n "${b_tps[$r]:-}" ]] || continue
      fig "rate_${r}_achieved_changes_per_s" "${b_tps[$r]}"
      fig "rate_${r}_events" "${b_events[$r]}"
      fig "rate_${r}_freshness_p50_s" "${b_p50[$r]}"
      fig "rate_${r}_freshness_p99_s" "${b_p99[$r]}"
      fig "rate_${r}_freshness_p999_s" "${b_p999[$r]}"
      fig "rate_${r}_max_last_freshness_s" "${b_lag[$r]}"
      fig "rate_${r}_drain_s" "${b_drain[$r]}"
      read -r p_proc p_cdc p_kafka p_pg p_machine <<<"$(pcts "${b_cpu[$r]}")"
      fig "rate_${r}_cpu_processor_pct" "${p_proc:-}"; fig "rate_${r}_cpu_cdc_pct" "${p_cdc:-}"
      fig "rate_${r}_cpu_kafka_pct" "${p_kafka:-}"; fig "rate_${r}_cpu_postgres_pct" "${p_pg:-}"
      fig "rate_${r}_machine_busy_pct" "${p_machine:-}"
    done
    [[ -z "${rates// /}" ]] || fig highest_rate_p99_under_1s "$b_best"
    fig full_rows_differing "$full_diff"
    fig processor_rss_mb "$main_proc_rss"; fig cdc_rss_mb "$main_cdc_rss"
    if ((first_start)); then fig first_start_s "${results[enrich.first_start_s]}"; fi
    if [[ -n "$g_build" ]]; then
      fig second_view_build_s "$g_build"; fig second_view_rows "$g_rows"
      fig second_view_refresh_concurrently_s "$g_refresh_conc"
      fig second_view_refresh_s "$g_refresh"
      fig second_view_rows_differing "$g_diff"; fig second_view_rss_mb "$g_rss"
    fi
    if [[ -n "$c_row" ]]; then
      fig snapshot_publish_s "$c_snapshot"; fig replay_s "$c_replay"
      fig replay_events "${c_replayed#events=}"; fig replay_write_s "$c_write"
      fig replay_rows_differing "$c_diff"; fig refresh_after_replay_s "$c_refresh"
      fig refresh_lz4_s "$c_refresh_lz4"; fig replay_rss_mb "$c_rss"
    fi
    if [[ -n "$e_row" ]]; then
      fig small_burst_applied_s "$e_applied"; fig small_burst2_applied_s "$e2_applied"
      fig small_refresh_s "$e_refresh"; fig small_refresh_concurrently_s "$e_refresh_conc"
      fig small_rows_differing "$e_diff"
    fi
  } >"$BENCH_FIGURES"
fi
