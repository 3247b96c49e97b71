# Shell library (source it) behind deploy/docker/engine.sh, compose.sh and
# tests/deploy/compose_test.sh: find or start a Docker engine, make the base
# image, build the project's images. Expects $root (the repository).

source "$root/deploy/lib/packages.sh"
source "$root/deploy/lib/contract.sh"

ENRICH_STATE_DIR=${ENRICH_STATE_DIR:-$root/.local}
enrich_cache_dir=${ENRICH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/enrich}

# The image names compose uses (deploy/docker-compose.yml).
ENRICH_IMAGE_TAG=${ENRICH_IMAGE_TAG:-local}

engine_dir() { echo "$ENRICH_STATE_DIR/docker"; }

# Debian's CLI goes with Debian's dockerd 20.10 and has BuildKit built in; a
# newer `docker` earlier on PATH may lack buildx.
docker_cli() {
  if [[ -x /usr/bin/docker ]]; then
    DOCKER_HOST=$(engine_host) /usr/bin/docker "$@"
  else
    DOCKER_HOST=$(engine_host) docker "$@"
  fi
}

# True when an engine answers on $1 (a DOCKER_HOST value).
engine_answers() {
  local cli=docker
  [[ -x /usr/bin/docker ]] && cli=/usr/bin/docker
  command -v "$cli" >/dev/null || return 1
  DOCKER_HOST=$1 timeout 20 "$cli" version -f '{{.Server.Version}}' >/dev/null 2>&1
}

# Our socket and exec root: under the state dir, unless its path is too long
# for a unix socket (108 bytes, and containerd nests sockets deeper).
own_run_dir() {
  local d
  d="$(engine_dir)/run"
  if ((${#d} > 60)); then
    d="/run/enrich-docker-$(echo "$ENRICH_STATE_DIR" | md5sum | cut -c1-12)"
  fi
  echo "$d"
}

own_host() { echo "unix://$(own_run_dir)/docker.sock"; }

# The DOCKER_HOST to use: $DOCKER_HOST when it answers, else ours, else the
# machine's default socket; empty when none answers.
engine_host() {
  if [[ -n "${ENRICH_ENGINE_HOST:-}" ]]; then
    echo "$ENRICH_ENGINE_HOST"
    return
  fi
  local h
  for h in "${DOCKER_HOST:-}" "$(own_host)" unix:///var/run/docker.sock; do
    [[ -n "$h" ]] || continue
    if engine_answers "$h"; then
      ENRICH_ENGINE_HOST=$h
      echo "$h"
      return
    fi
  done
}

own_dockerd_pid() {
  local pidfile pid
  pidfile="$(engine_dir)/dockerd.pid"
  [[ -f "$pidfile" ]] || return 1
  pid=$(cat "$pidfile")
  grep -qa -- "--data-root=$(engine_dir)/data" "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

engine_up() {
  local dir run hash pid i
  ENRICH_ENGINE_HOST=
  if [[ -n "$(engine_host)" ]]; then
    echo "engine: using $(engine_host)" >&2
    return 0
  fi
  if ((EUID != 0)); then
    echo "engine: no Docker engine answers and starting dockerd needs root" >&2
    return 1
  fi
  dir=$(engine_dir)
  run=$(own_run_dir)
  mkdir -p "$dir/data" "$run"
  hash=$(echo "$ENRICH_STATE_DIR" | md5sum | cut -c1-12)
  # A /16 out of 10.128.0.0/9 picked by the state dir: another engine's
  # networks rarely overlap ours.
  local octet=$((128 + 16#${hash:0:4} % 120))
  setsid nohup dockerd \
    --data-root="$dir/data" --exec-root="$run/exec" \
    --pidfile="$dir/dockerd.pid" --host="$(own_host)" \
    --containerd-namespace="enrich-$hash" \
    --containerd-plugins-namespace="enrich-$hash-plugins" \
    --bridge=none --iptables=false --ip-masq=false \
    --default-address-pool="base=10.$octet.0.0/16,size=24" \
    --log-level=warn >"$dir/dockerd.log" 2>&1 </dev/null &
  pid=$!
  for i in $(seq 1 120); do
    if engine_answers "$(own_host)"; then
      ENRICH_ENGINE_HOST=$(own_host)
      echo "engine: started dockerd (pid $pid, socket $(own_host), data $dir/data)" >&2
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "engine: dockerd exited during start-up:" >&2
      tail -n 20 "$dir/dockerd.log" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "engine: dockerd did not answer within 60 s:" >&2
  tail -n 20 "$dir/dockerd.log" >&2
  return 1
}

engine_down() {
  local pid i
  pid=$(own_dockerd_pid) || {
    echo "engine: no dockerd of ours runs" >&2
    return 0
  }
  kill -TERM "$pid"
  for i in $(seq 1 120); do
    kill -0 "$pid" 2>/dev/null || {
      echo "engine: dockerd stopped" >&2
      return 0
    }
    sleep 0.5
  done
  echo "engine: dockerd did not stop in 60 s; killing pid $pid" >&2
  kill -KILL "$pid" 2>/dev/null || true
}

engine_env() { echo "export DOCKER_HOST='$(engine_host)'"; }

debian_mirror() {
  if [[ -n "${ENRICH_DEBIAN_MIRROR:-}" ]]; then
    echo "$ENRICH_DEBIAN_MIRROR"
    return
  fi
  local m
  m=$(grep -hoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' \
    /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
    awk '{print $2}' | head -n 1 || true)
  echo "${m:-http://deb.debian.org/debian}"
}

# debian:bookworm, from debootstrap when the engine lacks it; the rootfs
# tarball is cached.
base_image() {
  local tarball="$enrich_cache_dir/debian-bookworm-minbase.tar.gz" tmp
  if docker_cli image inspect debian:bookworm >/dev/null 2>&1; then
    return 0
  fi
  if [[ ! -f "$tarball" ]]; then
    echo "engine: building debian:bookworm with debootstrap from $(debian_mirror) (about a minute)" >&2
    mkdir -p "$enrich_cache_dir"
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/enrich-debootstrap-XXXXXX")
    if ! debootstrap --variant=minbase bookworm "$tmp/root" "$(debian_mirror)" \
      >"$tmp/debootstrap.log" 2>&1; then
      tail -n 20 "$tmp/debootstrap.log" >&2
      rm -rf "$tmp"
      echo "engine: debootstrap failed" >&2
      return 1
    fi
    rm -rf "$tmp/root/var/cache/apt/archives/"*.deb "$tmp/root/var/lib/apt/lists/"*
    # A name of our own until complete: runs side by side do not clobber it.
    tar -C "$tmp/root" --numeric-owner -czf "$tarball.$$.tmp" .
    mv "$tarball.$$.tmp" "$tarball"
    rm -rf "$tmp"
  fi
  docker_cli import --change 'CMD ["bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$tarball" debian:bookworm >/dev/null
  echo "engine: imported debian:bookworm from $tarball" >&2
}

# The build context of every image: the repository (without .git, build
# trees and state), the contract as contract/, Kafka's jars as kafka-libs/.
# Prints its path: a directory per call, so builds can run side by side.
build_context() {
  local ctx contract libs
  ctx="$(engine_dir)/context-$BASHPID"
  contract=$(contract_dir "$root")
  [[ -f "$contract/source_schema.sql" ]] || {
    echo "images: the contract is missing at $contract (deploy/lib/contract.sh)" >&2
    return 1
  }
  libs=$("$root/deploy/kafka/fetch.sh")
  rm -rf "$ctx"
  mkdir -p "$ctx/contract" "$ctx/kafka-libs"
  tar -C "$root" --exclude=./.git --exclude=./.local --exclude=./build \
    --exclude='./build-*' -cf - . | tar -C "$ctx" -xf -
  cp "$contract"/*.sql "$ctx/contract/"
  cp -al "$libs"/*.jar "$ctx/kafka-libs/" 2>/dev/null || cp "$libs"/*.jar "$ctx/kafka-libs/"
  echo "$ctx"
}

# build_images [IMAGE...]: builds enrich, enrich-tests, enrich-postgres,
# enrich-kafka, enrich-prometheus (default: all), tagged $ENRICH_IMAGE_TAG.
build_images() {
  local ctx images=("$@") image
  ((${#images[@]})) || images=(enrich enrich-tests enrich-postgres enrich-kafka enrich-prometheus)
  ctx=$(build_context)
  for image in "${images[@]}"; do
    local args=()
    case "$image" in
      enrich) args=(-f deploy/Dockerfile --target runtime) ;;
      enrich-tests)
        args=(-f deploy/Dockerfile --target tests)
        # Only these test binaries (default: all, the Dockerfile's list).
        [[ -n "${ENRICH_TEST_TARGETS:-}" ]] &&
          args+=(--build-arg "ENRICH_TEST_TARGETS=$ENRICH_TEST_TARGETS")
        ;;
      enrich-postgres) args=(-f deploy/docker/postgres.Dockerfile) ;;
      enrich-kafka) args=(-f deploy/docker/kafka.Dockerfile) ;;
      enrich-prometheus) args=(-f deploy/docker/prometheus.Dockerfile) ;;
      *) echo "images: unknown image $image" >&2; return 1 ;;
    esac
    echo "images: building $image:$ENRICH_IMAGE_TAG" >&2
    (cd "$ctx" && DOCKER_BUILDKIT=1 docker_cli build --network host --progress plain \
      "${args[@]}" -t "$image:$ENRICH_IMAGE_TAG" .) >"$(engine_dir)/build-$image.log" 2>&1 || {
      tail -n 40 "$(engine_dir)/build-$image.log" >&2
      echo "images: building $image failed (log $(engine_dir)/build-$image.log)" >&2
      rm -rf "$ctx"
      return 1
    }
  done
  rm -rf "$ctx"
}
