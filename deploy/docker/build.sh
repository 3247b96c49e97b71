#!/usr/bin/env bash
# Builds the project's images on the engine deploy/docker/engine.sh finds or
# starts: enrich (deploy/Dockerfile, runtime), enrich-tests (its tests
# target), enrich-postgres, enrich-kafka, enrich-prometheus; all tagged
# $ENRICH_IMAGE_TAG (default local).
#
#   deploy/docker/build.sh [IMAGE...]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/deploy/docker/lib.sh"
"$root/deploy/docker/engine.sh" up >/dev/null
build_images "$@"
docker_cli image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' |
  grep -E "^enrich[a-z-]*:$ENRICH_IMAGE_TAG " >&2 || true
