#!/usr/bin/env bash
# The README's run command: installs what is missing, builds, brings up the
# local stack (PostgreSQL + Kafka) with the contract's source tables, starts
# enrich-cdc and enrich-processor in the background, writes ~20 s of
# realistic support traffic and shows enriched_support_conversations (and a
# second, declared view, support_user_rollup, kept by `run --view`) catching
# up live, then checks each against its reference view.
#
# Environment: ENRICH_STATE_DIR (default .local), ENRICH_BUILD_DIR (default
# build), DEMO_TRAFFIC_SECONDS (20), DEMO_SEED_CONVERSATIONS (200), and the
# stack's port variables (deploy/local/stack.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
build=${ENRICH_BUILD_DIR:-$root/build}
traffic_seconds=${DEMO_TRAFFIC_SECONDS:-20}
seed=${DEMO_SEED_CONVERSATIONS:-200}

"$root/deploy/install-deps.sh"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target enrich-cdc enrich-processor -- -j"$(nproc)"

eval "$("$root/deploy/local/stack.sh" up)"
source "$root/deploy/lib/contract.sh"
contract=$(contract_dir "$root")
psql "$ENRICH_PG_DSN" -X -q -v ON_ERROR_STOP=1 -f "$contract/source_schema.sql" >/dev/null
for t in raw_support_conversations support_conversation_messages subscribers_insights linear_issues; do
  psql "$ENRICH_PG_DSN" -X -q -c "ALTER TABLE $t REPLICA IDENTITY FULL"
done
# The reference view, for the equality check (not needed by the pipeline).
psql "$ENRICH_PG_DSN" -X -q -v ON_ERROR_STOP=1 -f "$contract/enriched_reference.sql" >/dev/null
# A second, declared view (per subscriber: conversations, open ones, latest
# titles), kept beside the first by its own `run --view`; its own SQL under
# another name is its reference.
rollup="$root/sql/views/support_user_rollup.sql"
sed 's/CREATE MATERIALIZED VIEW support_user_rollup AS/CREATE OR REPLACE VIEW support_user_rollup_reference AS/' \
  "$rollup" | psql "$ENRICH_PG_DSN" -X -q -v ON_ERROR_STOP=1 >/dev/null

state=${ENRICH_STATE_DIR:-$root/.local}

# Starts "$@" in the background unless $name's pid file names a live
# process, and waits for `ready` in its log.
start() {
  local name=$1 ready=$2
  shift 2
  if [[ -f "$state/$name.pid" ]] && kill -0 "$(cat "$state/$name.pid")" 2>/dev/null; then
    echo "demo: $name already running (pid $(cat "$state/$name.pid"))"
    return
  fi
  "$@" >"$state/$name.log" 2>&1 &
  echo $! >"$state/$name.pid"
  for _ in $(seq 1 120); do
    grep -q "$ready" "$state/$name.log" && break
    kill -0 "$(cat "$state/$name.pid")" 2>/dev/null || break
    sleep 0.5
  done
  grep -q "$ready" "$state/$name.log" || {
    echo "demo: $name did not start:" >&2
    tail -n 20 "$state/$name.log" >&2
    exit 1
  }
  echo "demo: $name started (pid $(cat "$state/$name.pid"), log $state/$name.log)"
}

# Some history first: it reaches the table through the build of
# enrich-processor run (enrich-cdc's snapshot is a boundary; the processor
# rebuilds from the source there).
if [[ $(psql "$ENRICH_PG_DSN" -X -qAt -c "SELECT count(*) FROM raw_support_conversations") == 0 ]]; then
  echo "demo: seeding $seed conversations"
  "$root/deploy/local/support_traffic.sh" seed "$seed"
fi
start enrich-cdc "msg=streaming" "$build/bin/enrich-cdc" --metrics-addr=127.0.0.1:0
"$build/bin/enrich-processor" migrate
start enrich-processor "msg=consuming" "$build/bin/enrich-processor" run --metrics-addr=127.0.0.1:0
"$build/bin/enrich-processor" migrate --view="$rollup"
start enrich-processor-rollup "msg=consuming" "$build/bin/enrich-processor" run --view="$rollup" \
  --metrics-addr=127.0.0.1:0

# One line a second: source sizes, enriched rows, rows differing from the
# reference (EXCEPT ALL both ways) and freshness (now minus the newest source
# commit the processor has written).
rollup_cols="distinct_id, conversations, open_conversations, last_activity_at, latest_titles"
watch_sql="SELECT format('%s  conversations=%s messages=%s enriched=%s differing=%s freshness=%s rollup=%s rollup_differing=%s',
  to_char(clock_timestamp(), 'HH24:MI:SS'),
  (SELECT count(*) FROM raw_support_conversations),
  (SELECT count(*) FROM support_conversation_messages),
  (SELECT count(*) FROM enriched_support_conversations),
  (SELECT count(*) FROM (SELECT * FROM enriched_support_conversations_reference
     EXCEPT ALL SELECT id, source, external_id, title, description, status,
       priority, created_at, updated_at, resolved_at, user_uuid, user_id,
       assignee_id, tags, custom_fields, raw_data, synced_at,
       has_linear_ticket, linear_issue_id, linear_custom_field_id, income,
       net_worth, investing_activity, total_copies, total_subscriptions,
       app_sessions, message_count, last_message_at, all_messages,
       linear_identifier, linear_title, linear_state_name, linear_url
     FROM enriched_support_conversations) a)
  + (SELECT count(*) FROM (SELECT id, source, external_id, title, description,
       status, priority, created_at, updated_at, resolved_at, user_uuid,
       user_id, assignee_id, tags, custom_fields, raw_data, synced_at,
       has_linear_ticket, linear_issue_id, linear_custom_field_id, income,
       net_worth, investing_activity, total_copies, total_subscriptions,
       app_sessions, message_count, last_message_at, all_messages,
       linear_identifier, linear_title, linear_state_name, linear_url
     FROM enriched_support_conversations
     EXCEPT ALL SELECT * FROM enriched_support_conversations_reference) b),
  coalesce(round(extract(epoch FROM now() - (SELECT max(source_commit_at)
     FROM enriched_support_conversations))::numeric, 2) || ' s', 'n/a'),
  (SELECT count(*) FROM support_user_rollup),
  (SELECT count(*) FROM (SELECT $rollup_cols FROM support_user_rollup_reference
     EXCEPT ALL SELECT $rollup_cols FROM support_user_rollup) a)
  + (SELECT count(*) FROM (SELECT $rollup_cols FROM support_user_rollup
     EXCEPT ALL SELECT $rollup_cols FROM support_user_rollup_reference) b))"
# Rows differing from their views, both tables together.
differing() {
  psql "$ENRICH_PG_DSN" -X -qAt -c "$watch_sql" |
    sed 's/.* differing=\([0-9]*\) .*rollup_differing=\([0-9]*\).*/\1 \2/' |
    awk '{ print $1 + $2 }'
}

echo "demo: writing support traffic for ${traffic_seconds}s (new conversations, replies, status changes, insights, Linear tickets)"
"$root/deploy/local/support_traffic.sh" run "$traffic_seconds" &
traffic=$!
while kill -0 "$traffic" 2>/dev/null; do
  psql "$ENRICH_PG_DSN" -X -qAt -c "$watch_sql"
  sleep 1
done
wait "$traffic"

echo "demo: traffic stopped; waiting for the pipeline to drain"
equal=no
for _ in $(seq 1 30); do
  psql "$ENRICH_PG_DSN" -X -qAt -c "$watch_sql"
  if [[ $(differing) == 0 ]]; then equal=yes; break; fi
  sleep 1
done

if [[ $equal == yes ]]; then
  echo "demo: EQUAL: enriched_support_conversations matches the reference and support_user_rollup its view (EXCEPT ALL both ways = 0)"
else
  echo "demo: NOT EQUAL after 30 s: see $state/enrich-processor.log and $state/enrich-processor-rollup.log; 'enrich-processor reconcile [--view FILE]' repairs and reports the rows"
fi

# A state directory other than the default must be named again.
env_prefix=""
[[ -n ${ENRICH_STATE_DIR:-} ]] && env_prefix="ENRICH_STATE_DIR=$state "
cat <<MSG
demo: enrich-cdc and enrich-processor keep running (logs and pid files in
$state). Try:
  eval "\$(${env_prefix}deploy/local/stack.sh env)"
  deploy/local/support_traffic.sh run 10            # more traffic
  $build/bin/enrich-processor reconcile --dry-run   # compare with the reference
  $build/bin/enrich-processor reconcile --dry-run --view=sql/views/support_user_rollup.sql
  $build/bin/enrich-cdc inspect --topic support.public.raw_support_conversations --from-beginning --idle-exit-ms 3000
Stop everything with:
  kill \$(cat $state/enrich-processor.pid) \$(cat $state/enrich-processor-rollup.pid) \$(cat $state/enrich-cdc.pid); ${env_prefix}deploy/local/stack.sh down
MSG
[[ $equal == yes ]]
