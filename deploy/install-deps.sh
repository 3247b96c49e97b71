#!/usr/bin/env bash
# Installs everything the project needs from Debian's packages, idempotently:
# nothing is downloaded when every package is already there. Then fetches the
# pinned Kafka broker from Maven Central (deploy/kafka/fetch.sh).
#
# clang and libclang-rt-14-dev (clang++ and its libFuzzer/ASan/UBSan runtimes)
# are only for tests/fuzz/run_libfuzzer.sh; the project itself builds with
# g++. They add about 14 MB of downloads, 110 MB installed, ~13 s to install.
#
# systemd (systemd-analyze), prometheus (promtool) and python3-venv are for
# the `deploy` checks (tests/deploy/). prometheus adds about 19 MB of
# downloads, 96 MB installed, ~25 s to install; it also brings a Prometheus
# service unit, which only starts where an init system runs it (a container's
# policy-rc.d refuses). kubernetes-validate comes from PyPI into a venv under
# ~/.cache/enrich (tests/deploy/python_venv.sh), not from here.
set -euo pipefail

source "$(dirname "$0")/lib/packages.sh"
packages=(
  "${enrich_build_packages[@]}"
  clang-format
  clang libclang-rt-14-dev
  postgresql-15 postgresql-client-15
  openjdk-17-jre-headless maven
  procps iproute2 util-linux passwd
  systemd prometheus python3-venv
)

install_packages "${packages[@]}"
echo "install-deps: all Debian packages present" >&2

"$(dirname "$0")/kafka/fetch.sh"
