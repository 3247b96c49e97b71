# Shell library (source it): the Debian packages the project needs, in one
# place, and the idempotent installer deploy/install-deps.sh and
# deploy/docker/engine.sh use. deploy/Dockerfile installs
# enrich_build_packages in its build stage from this file too.

# What building enrich-cdc, enrich-processor and the tests needs.
enrich_build_packages=(
  build-essential cmake ninja-build pkg-config git
  libpq-dev librdkafka-dev libprotobuf-dev protobuf-compiler libabsl-dev
  libgtest-dev libgmock-dev libcpp-httplib-dev libpg-query-dev
)

# install_packages PKG...: installs those not installed yet from Debian's
# packages (apt-get update first, only then); nothing when all are there.
# As a user other than root it needs sudo.
install_packages() {
  local missing=() p sudo=()
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  echo "install-deps: installing ${missing[*]}" >&2
  if ((EUID != 0)); then
    command -v sudo >/dev/null || {
      echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
      return 1
    }
    sudo=(sudo)
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
