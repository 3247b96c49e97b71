#!/usr/bin/env bash
# The compose project on a real Docker engine (CTest label `docker`):
#
#  1. brings up an engine (deploy/docker/engine.sh: installs docker.io,
#     starts our own dockerd when none answers, makes debian:bookworm);
#  2. builds the images (deploy/docker/build.sh's);
#  3. starts PostgreSQL and Kafka under a unique project name and free
#     loopback ports, seeds history, starts enrich-cdc, the migrations and
#     enrich-processor, waits until they are healthy;
#  4. runs the `tests` service: the integration suite inside compose
#     (ENRICH_TEST_BINARIES, default below);
#  5. writes support traffic (deploy/local/support_traffic.sh), waits until
#     drained and checks enriched_support_conversations equals the reference
#     (EXCEPT ALL both ways, 0 rows);
#  6. more traffic while the enrich-processor container is restarted
#     (docker restart) and then killed with SIGKILL and started again;
#     checks again;
#  7. profile monitoring: Prometheus scrapes both processes (up == 1);
#  8. tears the project (volumes included) and the engine it started down,
#     whatever happened.
#
# Exits 77 (CTest: skipped) with the reason when no engine can run here
# (not root and none answers, or dockerd refuses to start).
#
# Environment: ENRICH_TEST_BINARIES (integration binaries to run, or `all`;
# default below), COMPOSE_TEST_IMAGE_TAG (compose-test),
# COMPOSE_TEST_TRAFFIC_SECONDS (15), ENRICH_STATE_DIR,
# ENRICH_KEEP_COMPOSE=1 (leave the project running for a look).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/deploy/docker/lib.sh"
source "$root/deploy/lib/services.sh"

skip() {
  echo "compose_test: SKIPPED: $*" >&2
  exit 77
}
log() { echo "compose_test: [$((SECONDS - t0)) s] $*" >&2; }
t0=$SECONDS
traffic_seconds=${COMPOSE_TEST_TRAFFIC_SECONDS:-15}
# Inside compose the binaries share one PostgreSQL and one Kafka. The whole
# suite passes there (ENRICH_TEST_BINARIES=all: about 4.5 minutes to run and
# 2.5 to compile on 2 busy cores); by default CI runs all but
# cdc_resilience_test (the CTest `integration` label runs every binary on
# its own services anyway), keeping the cold run well under 15 minutes.
binaries=${ENRICH_TEST_BINARIES:-harness_smoke_test kafka_sink_integration_test cdc_stream_test processor_pg_integration_test processor_pipeline_test}
if [[ $binaries == all ]]; then
  binaries=""
else
  export ENRICH_TEST_TARGETS=$binaries
fi
# Our own tag: a developer's `local` images stay as they are.
export ENRICH_IMAGE_TAG=${COMPOSE_TEST_IMAGE_TAG:-compose-test}

mkdir -p "$ENRICH_STATE_DIR"

# 1. The engine.
engine_was_ours=no
own_dockerd_pid >/dev/null && engine_was_ours=yes
if [[ -z "$(engine_host)" ]] && ((EUID != 0)); then
  skip "no Docker engine answers and starting dockerd needs root"
fi
if ! "$root/deploy/docker/engine.sh" up >/dev/null 2>"$ENRICH_STATE_DIR/engine-up.log"; then
  cat "$ENRICH_STATE_DIR/engine-up.log" >&2
  if grep -q "dockerd exited during start-up\|did not answer" "$ENRICH_STATE_DIR/engine-up.log"; then
    skip "dockerd cannot run on this machine (its log above)"
  fi
  echo "compose_test: FAILED: deploy/docker/engine.sh up" >&2
  exit 1
fi
ENRICH_ENGINE_HOST=
export DOCKER_HOST ENRICH_ENGINE_HOST
DOCKER_HOST=$(engine_host)
ENRICH_ENGINE_HOST=$DOCKER_HOST
started_engine=no
if [[ $engine_was_ours == no ]] && own_dockerd_pid >/dev/null; then
  started_engine=yes
fi
log "engine $DOCKER_HOST (started here: $started_engine)"

project="enrichtest$$$RANDOM"
compose_cmd=(docker-compose)
command -v docker-compose >/dev/null || compose_cmd=(docker compose)
compose() {
  "${compose_cmd[@]}" -p "$project" -f "$root/deploy/docker-compose.yml" \
    --profile tests --profile monitoring "$@"
}

export ENRICH_COMPOSE_PG_PORT ENRICH_COMPOSE_KAFKA_PORT \
  ENRICH_COMPOSE_CDC_METRICS_PORT ENRICH_COMPOSE_PROCESSOR_METRICS_PORT \
  ENRICH_COMPOSE_PROMETHEUS_PORT
ENRICH_COMPOSE_PG_PORT=$(free_port)
ENRICH_COMPOSE_KAFKA_PORT=$(free_port)
ENRICH_COMPOSE_CDC_METRICS_PORT=$(free_port)
ENRICH_COMPOSE_PROCESSOR_METRICS_PORT=$(free_port)
ENRICH_COMPOSE_PROMETHEUS_PORT=$(free_port)
dsn="host=127.0.0.1 port=$ENRICH_COMPOSE_PG_PORT user=postgres dbname=enrich"

result=FAILED
teardown() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ $result != passed ]]; then
    echo "compose_test: logs of the project $project:" >&2
    compose ps >&2 || true
    compose logs --no-color --tail 40 >&2 || true
  fi
  if [[ ${ENRICH_KEEP_COMPOSE:-0} == 1 ]]; then
    log "ENRICH_KEEP_COMPOSE=1: project $project left running ($dsn)"
  else
    compose down --volumes --remove-orphans --timeout 10 >/dev/null 2>&1 ||
      echo "compose_test: compose down failed" >&2
    if [[ $started_engine == yes ]]; then
      "$root/deploy/docker/engine.sh" down 2>/dev/null || true
    fi
  fi
  log "$result (wall time $((SECONDS - t0)) s)"
  exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM

# 2. Images. The three service images only download packages: they build
# while the executables compile.
log "building images"
build_images enrich-postgres enrich-kafka enrich-prometheus &
services_build=$!
build_images enrich enrich-tests
wait "$services_build"
log "images built"

# wait_healthy SERVICE SECONDS
wait_healthy() {
  local id status="absent" i
  for i in $(seq 1 "$2"); do
    id=$(compose ps -q "$1" 2>/dev/null || true)
    if [[ -n "$id" ]]; then
      status=$(docker_cli inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id")
      [[ $status == healthy ]] && return 0
    fi
    sleep 1
  done
  echo "compose_test: $1 not healthy after $2 s (status $status)" >&2
  return 1
}

psql_q() { psql "$dsn" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
differing() { psql_q -f "$root/deploy/lib/reference_diff.sql"; }

# wait_converged SECONDS: until the enriched table equals the reference and
# holds every conversation.
wait_converged() {
  local i d=unknown
  for i in $(seq 1 "$1"); do
    d=$(differing)
    if [[ $d == 0 && $(psql_q -c "SELECT (SELECT count(*) FROM raw_support_conversations)
        = (SELECT count(*) FROM enriched_support_conversations)") == t ]]; then
      return 0
    fi
    sleep 1
  done
  echo "compose_test: not converged after $1 s: $d rows differ from the reference" >&2
  return 1
}

# 3. The services.
compose_log="$ENRICH_STATE_DIR/compose-test-up.log"
: >"$compose_log"
compose up -d postgres kafka >>"$compose_log" 2>&1
wait_healthy postgres 120
psql_q -c "SELECT 1" >/dev/null
[[ $(psql_q -c "SHOW wal_level") == logical ]]
ENRICH_PG_DSN=$dsn "$root/deploy/local/support_traffic.sh" seed 150
wait_healthy kafka 180
compose up -d enrich-cdc enrich-processor-migrate enrich-processor >>"$compose_log" 2>&1
wait_healthy enrich-cdc 120
wait_healthy enrich-processor 180
[[ $(docker_cli inspect -f '{{.State.ExitCode}}' "$(compose ps -q enrich-processor-migrate)") == 0 ]]
log "pipeline healthy"

# 4. The integration suite inside compose.
log "running the tests service (${binaries:-all binaries})"
if ! ENRICH_TEST_BINARIES=$binaries compose run --rm tests >"$ENRICH_STATE_DIR/compose-tests.log" 2>&1; then
  grep -E "^===|FAILED|Failure|error" "$ENRICH_STATE_DIR/compose-tests.log" | tail -n 60 >&2
  echo "compose_test: the tests service failed (log $ENRICH_STATE_DIR/compose-tests.log)" >&2
  exit 1
fi
grep -E "^=== .* passed|^tests:" "$ENRICH_STATE_DIR/compose-tests.log" >&2
log "tests service passed"

# 5. Traffic, then the equality check.
ENRICH_PG_DSN=$dsn "$root/deploy/local/support_traffic.sh" run "$traffic_seconds"
wait_converged 120
log "converged after traffic: $(psql_q -c "SELECT count(*) FROM enriched_support_conversations") rows equal the reference"

# 6. The processor restarted, then killed, mid-traffic.
processor=$(compose ps -q enrich-processor)
started_before=$(docker_cli inspect -f '{{.State.StartedAt}}' "$processor")
ENRICH_PG_DSN=$dsn "$root/deploy/local/support_traffic.sh" run $((traffic_seconds + 10)) &
traffic=$!
sleep 5
docker_cli restart -t 10 "$processor" >/dev/null
started_after=$(docker_cli inspect -f '{{.State.StartedAt}}' "$processor")
[[ $started_after != "$started_before" ]] || {
  echo "compose_test: enrich-processor was not restarted" >&2
  exit 1
}
log "enrich-processor restarted mid-traffic"
wait_healthy enrich-processor 120
sleep 3
docker_cli kill -s KILL "$processor" >/dev/null
docker_cli start "$processor" >/dev/null
log "enrich-processor killed (SIGKILL) and started mid-traffic"
wait "$traffic"
wait_healthy enrich-processor 120
wait_converged 120
log "converged after the restarts: $(psql_q -c "SELECT count(*) FROM enriched_support_conversations") rows equal the reference"

# 7. Monitoring: Prometheus scrapes both processes.
compose up -d prometheus >>"$compose_log" 2>&1
wait_healthy prometheus 120
# sum(up) over the two scrape jobs (deploy/docker/prometheus.yml has no
# others), through bash's /dev/tcp: no HTTP client needed.
up_query() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$ENRICH_COMPOSE_PROMETHEUS_PORT" || exit 0
    printf 'GET /api/v1/query?query=sum(up) HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
    timeout 5 cat <&3
  ) 2>/dev/null | sed -n 's/.*"value":\[[^,]*,"\([0-9]*\)"\].*/\1/p'
}
for _ in $(seq 1 60); do
  [[ $(up_query) == 2 ]] && break
  sleep 1
done
[[ $(up_query) == 2 ]] || {
  echo "compose_test: Prometheus does not see both processes up (sum(up) = $(up_query))" >&2
  exit 1
}
log "Prometheus scrapes enrich-cdc and enrich-processor"

result=passed
