#!/usr/bin/env bash
# Ephemeral PostgreSQL + Kafka for one integration-test binary, the way
# Testcontainers gives them: free ports, a private state dir, torn down at the
# end. Used by tests/support/services_environment.cc.
#
#   test_services.sh start STATE_DIR OWNER_PID   prints KEY=VALUE lines
#   test_services.sh stop STATE_DIR
#   test_services.sh pg-only-start STATE_DIR OWNER_PID EXTRA_CONF HBA FILES_DIR
#       a PostgreSQL alone, created with EXTRA_CONF appended to its
#       postgresql.conf, HBA as its pg_hba.conf and FILES_DIR's files (TLS
#       keys) in its data directory (pg_start); prints ENRICH_TEST_PG_PORT=
#
# Faults, for tests of what the pipeline survives (same port, same data):
#   test_services.sh pg-stop STATE_DIR fast|immediate   pg_ctl stop -m MODE
#   test_services.sh pg-start STATE_DIR
#   test_services.sh kafka-stop STATE_DIR term|kill     SIGTERM (clean) or -9
#   test_services.sh kafka-start STATE_DIR
#
# `start` also leaves a reaper that stops everything once OWNER_PID is gone,
# so a crashed or killed test binary does not leak servers.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/deploy/lib/services.sh"

cmd=${1:-}; state=${2:-}
[[ -n "$state" ]] || { echo "usage: $0 start|stop STATE_DIR [OWNER_PID]" >&2; exit 2; }

case "$cmd" in
  start)
    owner=${3:?owner pid required}
    mkdir -p "$state"
    # fsync off: tests crash our processes and at most the server (an
    # immediate shutdown), never the operating system.
    pg_start "$state" "$(free_port)" off >&2
    kafka_port=$(free_port)
    controller_port=$(free_port)
    while [[ "$controller_port" == "$kafka_port" ]]; do controller_port=$(free_port); done
    kafka_start "$state" "$kafka_port" "$controller_port" >&2
    setsid nohup bash -c '
      while kill -0 "$1" 2>/dev/null; do sleep 1; done
      exec "$2" stop "$3"' reaper "$owner" "$0" "$state" >/dev/null 2>&1 </dev/null &
    echo "ENRICH_TEST_PG_DSN=$(pg_dsn "$state")"
    echo "ENRICH_TEST_KAFKA_BROKERS=$(kafka_brokers "$state")"
    ;;
  pg-only-start)
    owner=${3:?owner pid required}
    mkdir -p "$state"
    pg_start "$state" "$(free_port)" off "${4:?extra conf}" "${5:?hba}" \
      "${6:?files dir}" >&2
    setsid nohup bash -c '
      while kill -0 "$1" 2>/dev/null; do sleep 1; done
      exec "$2" stop "$3"' reaper "$owner" "$0" "$state" >/dev/null 2>&1 </dev/null &
    echo "ENRICH_TEST_PG_PORT=$(pg_port "$state")"
    ;;
  stop)
    [[ -d "$state" ]] || exit 0
    kafka_stop "$state"
    data=$(pg_datadir "$state")
    pg_stop "$state"
    case "$data" in
      /var/tmp/enrich-pg-*) rm -rf "$(dirname "$data")" ;;
    esac
    rm -rf "$state"
    ;;
  pg-stop)
    mode=${3:?fast or immediate}
    as_pg_user "$(pg_bindir)/pg_ctl" -D "$(pg_datadir "$state")" -m "$mode" \
      -w -t 60 stop >/dev/null
    ;;
  pg-start)
    pg_start "$state" "$(pg_port "$state")" >&2
    ;;
  kafka-stop)
    case "${3:?term or kill}" in
      term) kafka_stop "$state" ;;
      kill)
        pid=$(kafka_pid "$state")
        kill -KILL "$pid"
        # Gone only once it released its ports and log dir.
        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
        rm -f "$state/kafka/kafka.pid"
        ;;
      *) echo "kafka-stop: term or kill" >&2; exit 2 ;;
    esac
    ;;
  kafka-start)
    cport=$(sed -n 's/^controller.quorum.voters=1@127.0.0.1:\([0-9]*\)$/\1/p' \
      "$state/kafka/server.properties")
    kafka_start "$state" "$(cat "$state/kafka/port")" "$cport" >&2
    ;;
  *)
    echo "usage: $0 start|stop STATE_DIR [OWNER_PID]" >&2
    exit 2
    ;;
esac
