#!/bin/bash
# First start (empty $PGDATA): initdb, logical replication settings, trust
# on the container network, database enrich with the contract's source
# tables (REPLICA IDENTITY FULL) and reference view, database enrich_test.
# Every start: exec postgres in the foreground (PID 1 gets SIGTERM: a fast
# shutdown is `docker stop`'s default signal... PostgreSQL's smart shutdown;
# compose sets stop_signal SIGINT for a fast one).
set -euo pipefail
: "${PGDATA:=/var/lib/postgresql/data}"
if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
  initdb -D "$PGDATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  cat >>"$PGDATA/postgresql.conf" <<CONF
# enrich (deploy/docker/postgres): logical replication for enrich-cdc
listen_addresses = '*'
wal_level = logical
max_replication_slots = ${ENRICH_PG_MAX_REPLICATION_SLOTS:-32}
max_wal_senders = ${ENRICH_PG_MAX_REPLICATION_SLOTS:-32}
max_connections = ${ENRICH_PG_MAX_CONNECTIONS:-200}
shared_buffers = ${ENRICH_PG_SHARED_BUFFERS:-256MB}
CONF
  cat >"$PGDATA/pg_hba.conf" <<HBA
# enrich (deploy/docker/postgres): a development and test stack. Trust on
# the container network and loopback; publish the port on 127.0.0.1 only.
local all         all                trust
host  all         all         all    trust
host  replication all         all    trust
HBA
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w -t 60 start >/dev/null
  psql=(psql -X -q -v ON_ERROR_STOP=1 -U postgres)
  "${psql[@]}" -d postgres -c "CREATE DATABASE enrich" -c "CREATE DATABASE enrich_test"
  "${psql[@]}" -d enrich -f /enrich/contract/source_schema.sql >/dev/null
  for t in raw_support_conversations support_conversation_messages subscribers_insights linear_issues; do
    "${psql[@]}" -d enrich -c "ALTER TABLE $t REPLICA IDENTITY FULL"
  done
  "${psql[@]}" -d enrich -f /enrich/contract/enriched_reference.sql >/dev/null
  # The least-privilege login roles the pipeline runs as (sql/004 and
  # sql/007 grant their groups what each needs when migrate runs; the groups
  # are created here so the login roles can join them now), and the
  # publication, which only the tables' owner can create.
  "${psql[@]}" -d enrich <<'SQL'
CREATE ROLE enrich_cdc NOLOGIN;
CREATE ROLE enrich_processor NOLOGIN;
CREATE ROLE enrich_cdc_svc LOGIN REPLICATION IN ROLE enrich_cdc;
CREATE ROLE enrich_processor_svc LOGIN IN ROLE enrich_processor;
CREATE PUBLICATION enrich_cdc FOR TABLE raw_support_conversations,
  support_conversation_messages, subscribers_insights, linear_issues;
SQL
  pg_ctl -D "$PGDATA" -m fast -w -t 60 stop >/dev/null
  echo "enrich-postgres: initialized $PGDATA (databases enrich, enrich_test)"
fi
exec postgres -D "$PGDATA"
