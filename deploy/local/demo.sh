#!/usr/bin/env bash
# The README's run command: installs what is missing, builds, brings up the
# local stack (PostgreSQL + Kafka) with the contract's source tables, and runs
# the pipeline on it.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

"$root/deploy/install-deps.sh"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -- -j"$(nproc)"

eval "$("$root/deploy/local/stack.sh" up)"
contract=${ENRICH_CONTRACT_DIR:-$root/../shared/contract}
psql "$ENRICH_PG_DSN" -X -q -v ON_ERROR_STOP=1 -f "$contract/source_schema.sql" >/dev/null
for t in raw_support_conversations support_conversation_messages subscribers_insights linear_issues; do
  psql "$ENRICH_PG_DSN" -X -q -c "ALTER TABLE $t REPLICA IDENTITY FULL"
done

state=${ENRICH_STATE_DIR:-$root/.local}
if [[ -f "$state/enrich-cdc.pid" ]] && kill -0 "$(cat "$state/enrich-cdc.pid")" 2>/dev/null; then
  echo "demo: enrich-cdc already running (pid $(cat "$state/enrich-cdc.pid"))"
else
  "$root/build/bin/enrich-cdc" --metrics-addr=127.0.0.1:0 >"$state/enrich-cdc.log" 2>&1 &
  echo $! >"$state/enrich-cdc.pid"
  for _ in $(seq 1 120); do
    grep -q "msg=streaming" "$state/enrich-cdc.log" && break
    sleep 0.5
  done
  grep -q "msg=streaming" "$state/enrich-cdc.log" || { tail -n 20 "$state/enrich-cdc.log"; exit 1; }
fi

# A little support traffic: a Linear ticket, a user, a conversation and two
# messages, then an edit.
id=$(cat /proc/sys/kernel/random/uuid)
psql "$ENRICH_PG_DSN" -X -q -v ON_ERROR_STOP=1 <<SQL
INSERT INTO linear_issues (id, identifier, title) VALUES ('lin-$id', 'SUP-1', 'Export fails')
  ON CONFLICT DO NOTHING;
INSERT INTO subscribers_insights (distinct_id, income) VALUES ('user-demo', 'high')
  ON CONFLICT (distinct_id) DO UPDATE SET app_sessions = coalesce(subscribers_insights.app_sessions, 0) + 1;
INSERT INTO raw_support_conversations (id, source, external_id, title, created_at, updated_at, user_id, linear_issue_id)
  VALUES ('$id', 'zendesk', 'demo-$id', 'Cannot export', now(), now(), 'user-demo', 'lin-$id');
INSERT INTO support_conversation_messages (id, conversation_id, author_type, body, created_at)
  VALUES (gen_random_uuid(), '$id', 'user', 'My export fails', now()),
         (gen_random_uuid(), '$id', 'agent', 'Looking into it', now());
UPDATE raw_support_conversations SET status = 'open' WHERE id = '$id';
SQL

echo "demo: change events published for conversation $id:"
"$root/build/bin/enrich-cdc" inspect --kafka-brokers "$ENRICH_KAFKA_BROKERS" \
  --topic support.public.support_conversation_messages --from-beginning \
  --idle-exit-ms 3000 | tail -n 2 | cut -c1-300

cat <<MSG
demo: enrich-cdc is streaming (log: $state/enrich-cdc.log, pid file
$state/enrich-cdc.pid). Watch events with:
  build/bin/enrich-cdc inspect --kafka-brokers $ENRICH_KAFKA_BROKERS --topic support.public.raw_support_conversations --from-beginning
enrich-processor (issue 4) only has 'migrate' so far; the enriched table is
not maintained yet. Stop everything with:
  kill \$(cat $state/enrich-cdc.pid); deploy/local/stack.sh down
MSG
