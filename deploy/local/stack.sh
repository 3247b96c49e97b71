#!/usr/bin/env bash
# The local stack: a private PostgreSQL 15 cluster (wal_level=logical) and a
# single-node Kafka broker, under a state directory.
#
#   deploy/local/stack.sh up       start both (idempotent), print env exports
#   deploy/local/stack.sh down     stop what `up` started (pid files only)
#   deploy/local/stack.sh status   say what runs
#   deploy/local/stack.sh env      print the export lines again
#
# Environment: ENRICH_STATE_DIR (default .local in the repo),
# ENRICH_LOCAL_PG_PORT (25432), ENRICH_LOCAL_KAFKA_PORT (29092),
# ENRICH_LOCAL_KAFKA_CONTROLLER_PORT (29093). The defaults sit below Linux's
# ephemeral range (32768-60999): a port in it can be held by any outgoing
# connection's local end, and then the server cannot bind it.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/deploy/lib/services.sh"

state=${ENRICH_STATE_DIR:-$root/.local}
pg_port=${ENRICH_LOCAL_PG_PORT:-25432}
kafka_port=${ENRICH_LOCAL_KAFKA_PORT:-29092}
controller_port=${ENRICH_LOCAL_KAFKA_CONTROLLER_PORT:-29093}

print_env() {
  echo "export ENRICH_PG_DSN='$(pg_dsn "$state")'"
  echo "export ENRICH_KAFKA_BROKERS='$(kafka_brokers "$state")'"
}

check_port() {
  if port_in_use "$1"; then
    echo "stack: port $1 ($2) is taken by another process; set $3 to another port" >&2
    exit 1
  fi
}

case "${1:-}" in
  up)
    mkdir -p "$state"
    pg_is_running "$state" || check_port "$pg_port" PostgreSQL ENRICH_LOCAL_PG_PORT
    if ! kafka_is_running "$state"; then
      check_port "$kafka_port" Kafka ENRICH_LOCAL_KAFKA_PORT
      check_port "$controller_port" "Kafka controller" ENRICH_LOCAL_KAFKA_CONTROLLER_PORT
    fi
    pg_start "$state" "$pg_port" on
    echo "stack: PostgreSQL up on 127.0.0.1:$(pg_port "$state") (data $(pg_datadir "$state"))" >&2
    kafka_start "$state" "$kafka_port" "$controller_port"
    echo "stack: Kafka up on $(kafka_brokers "$state") (state $state/kafka)" >&2
    print_env
    ;;
  down)
    kafka_stop "$state"
    pg_stop "$state"
    echo "stack: stopped" >&2
    ;;
  status)
    rc=0
    if pg_is_running "$state"; then echo "postgresql: running on 127.0.0.1:$(pg_port "$state")"
    else echo "postgresql: stopped"; rc=3; fi
    if kafka_is_running "$state"; then echo "kafka: running on $(kafka_brokers "$state") (pid $(kafka_pid "$state"))"
    else echo "kafka: stopped"; rc=3; fi
    exit $rc
    ;;
  env)
    pg_is_running "$state" && kafka_is_running "$state" || {
      echo "stack: not running; run '$0 up'" >&2; exit 1; }
    print_env
    ;;
  *)
    echo "usage: $0 up|down|status|env" >&2
    exit 2
    ;;
esac
