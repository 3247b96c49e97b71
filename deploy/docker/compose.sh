#!/usr/bin/env bash
# The whole pipeline in compose (deploy/docker-compose.yml), on the engine
# deploy/docker/engine.sh finds or starts.
#
#   deploy/docker/compose.sh up      engine, images (deploy/docker/build.sh),
#                                    `up -d`, wait until enrich-processor is
#                                    healthy, print how to reach it
#   deploy/docker/compose.sh down    `down` (volumes kept; `down -v` drops
#                                    them), then stop the dockerd we started
#   deploy/docker/compose.sh ARGS    docker-compose ARGS on the project, e.g.
#                                    ps, logs -f enrich-processor,
#                                    run --rm tests, --profile monitoring up -d
#
# Environment: ENRICH_COMPOSE_PROJECT (default enrich), the port variables of
# deploy/docker-compose.yml, ENRICH_IMAGE_TAG, ENRICH_STATE_DIR.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/deploy/docker/lib.sh"
project=${ENRICH_COMPOSE_PROJECT:-enrich}

compose() {
  local cmd=(docker-compose)
  command -v docker-compose >/dev/null || cmd=(docker compose)
  DOCKER_HOST=$(engine_host) "${cmd[@]}" -p "$project" \
    -f "$root/deploy/docker-compose.yml" "$@"
}

# wait_healthy SERVICE SECONDS
wait_healthy() {
  local id status i
  for i in $(seq 1 "$2"); do
    id=$(compose ps -q "$1" 2>/dev/null || true)
    if [[ -n "$id" ]]; then
      status=$(docker_cli inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id")
      [[ $status == healthy ]] && return 0
    fi
    sleep 1
  done
  echo "compose: $1 not healthy after $2 s (status ${status:-absent})" >&2
  compose logs --tail 30 "$1" >&2 || true
  return 1
}

case "${1:-}" in
  up)
    shift
    "$root/deploy/docker/engine.sh" up >/dev/null
    build_images enrich enrich-postgres enrich-kafka
    compose up -d "$@"
    wait_healthy enrich-processor 300
    compose ps
    cat <<MSG
compose: the pipeline runs (project $project). Try:
  ENRICH_PG_DSN='host=127.0.0.1 port=${ENRICH_COMPOSE_PG_PORT:-25433} user=postgres dbname=enrich' deploy/local/support_traffic.sh run 20
  deploy/docker/compose.sh logs -f enrich-processor
  curl -s 127.0.0.1:${ENRICH_COMPOSE_PROCESSOR_METRICS_PORT:-29188}/metrics
  deploy/docker/build.sh enrich-tests && deploy/docker/compose.sh run --rm tests
  deploy/docker/build.sh enrich-prometheus && deploy/docker/compose.sh --profile monitoring up -d prometheus
Stop with: deploy/docker/compose.sh down   (add -v to drop the volumes)
MSG
    ;;
  down)
    shift
    if [[ -n "$(engine_host)" ]]; then
      compose --profile tests --profile monitoring down --remove-orphans "$@"
    fi
    "$root/deploy/docker/engine.sh" down
    ;;
  "")
    echo "usage: $0 up|down|<docker-compose arguments>" >&2
    exit 2
    ;;
  *)
    [[ -n "$(engine_host)" ]] || { echo "compose: no engine answers; run '$0 up'" >&2; exit 1; }
    compose "$@"
    ;;
esac
