#!/usr/bin/env bash
# A Docker engine for the compose project, without an image registry.
#
#   deploy/docker/engine.sh up       install docker.io, docker-compose and
#                                    debootstrap when missing; use the engine
#                                    that answers, else start our own dockerd;
#                                    make debian:bookworm when absent; print
#                                    `export DOCKER_HOST=...`
#   deploy/docker/engine.sh down     stop the dockerd `up` started (pid file
#                                    only); an engine we did not start is left
#   deploy/docker/engine.sh status   say which engine answers
#   deploy/docker/engine.sh env      print the export line again
#
# Our own dockerd has its own socket, data root and exec root under
# $ENRICH_STATE_DIR/docker (default .local/docker), no default bridge and no
# iptables rules, and its networks come from an address pool picked from the
# state directory, so it never disturbs another engine on the machine.
# Containers reach each other and the host's loopback through published
# ports; nothing needs the internet except image builds (--network host).
#
# The base image debian:bookworm cannot be pulled here: it is built with
# `debootstrap --variant=minbase bookworm` from Debian's packages and
# `docker import`ed; the root filesystem tarball is cached under
# ~/.cache/enrich (ENRICH_CACHE_DIR) so a second machine state is fast.
#
# Environment: ENRICH_STATE_DIR, ENRICH_CACHE_DIR, DOCKER_HOST (an engine to
# use instead of ours), ENRICH_DEBIAN_MIRROR (default: the first URI of
# apt's sources, else http://deb.debian.org/debian).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/deploy/docker/lib.sh"

case "${1:-}" in
  up)
    install_packages docker.io docker-compose debootstrap
    engine_up
    base_image
    engine_env
    ;;
  down)
    engine_down
    ;;
  status)
    if [[ -n "$(engine_host)" ]]; then
      echo "docker: $(engine_host) answers ($(docker_cli version -f '{{.Server.Version}}' 2>/dev/null))"
      own_dockerd_pid >/dev/null && echo "docker: our dockerd, pid $(own_dockerd_pid), data $(engine_dir)/data"
      exit 0
    fi
    echo "docker: no engine answers"
    exit 3
    ;;
  env)
    [[ -n "$(engine_host)" ]] || { echo "engine: no engine answers; run '$0 up'" >&2; exit 1; }
    engine_env
    ;;
  *)
    echo "usage: $0 up|down|status|env" >&2
    exit 2
    ;;
esac
