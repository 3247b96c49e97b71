#!/usr/bin/env bash
# Checks deploy/systemd/ with `systemd-analyze verify` (no running systemd
# needed). The units name /usr/local/bin/enrich-{cdc,processor}; verify
# insists that ExecStart= is executable, so they are checked from a copy
# that points at the built binaries (argument 1: the build's bin directory),
# or at stand-in scripts when those are not built. Any message counts as a
# failure: systemd-analyze only warns about unknown keys and bad values.
# Then: every unit loads its env file and a pgpass credential, and every
# example env file sets ENRICH_PG_DSN without a password.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin_dir="${1:-$root/build/bin}"
command -v systemd-analyze >/dev/null || {
  echo "systemd-analyze missing: deploy/install-deps.sh installs systemd" >&2
  exit 1
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for exe in enrich-cdc enrich-processor; do
  if [[ -x "$bin_dir/$exe" ]]; then
    ln -s "$bin_dir/$exe" "$tmp/$exe"
  else
    printf '#!/bin/sh\nexit 0\n' >"$tmp/$exe"
    chmod +x "$tmp/$exe"
    echo "note: $bin_dir/$exe not built; verifying against a stand-in" >&2
  fi
done
mkdir "$tmp/units"
to_verify=()
for unit in "$root"/deploy/systemd/*.service; do
  name="$(basename "$unit")"
  sed "s|/usr/local/bin/|$tmp/|g" "$unit" >"$tmp/units/$name"
  if [[ "$name" == *@.service ]]; then
    # verify skips a template: it checks an instance of it.
    ln -s "$name" "$tmp/units/${name%@.service}@example.service"
    to_verify+=("./${name%@.service}@example.service")
  else
    to_verify+=("./$name")
  fi
done

status=0
# The units' own directory first, so Requires= finds the migrate unit.
out="$(cd "$tmp/units" && SYSTEMD_UNIT_PATH="$tmp/units:" \
  systemd-analyze verify --man=no --generators=no "${to_verify[@]}" 2>&1)" || status=1
if [[ -n "$out" ]]; then
  echo "$out" >&2
  status=1
fi

for unit in "$root"/deploy/systemd/*.service; do
  name="$(basename "$unit" .service)"
  for key in EnvironmentFile=/etc/enrich/ LoadCredential=pgpass: \
    Environment=PGPASSFILE=%d/pgpass DynamicUser=yes ProtectSystem=strict \
    NoNewPrivileges=yes CapabilityBoundingSet= SystemCallFilter=@system-service \
    StartLimitBurst= MemoryMax=; do
    grep -q "^$key" "$unit" || { echo "$name: no $key" >&2; status=1; }
  done
done
for env in "$root"/deploy/systemd/*.env.example; do
  if [[ "$(basename "$env")" == view.env.example ]]; then
    # Read after processor.env or migrate.env: a view's own group, never
    # today's, and no other database.
    grep -q '^ENRICH_GROUP_ID=enrich-processor\.' "$env" ||
      { echo "$env: no ENRICH_GROUP_ID of its own" >&2; status=1; }
    grep -q '^ENRICH_PG_DSN' "$env" && { echo "$env: sets the DSN" >&2; status=1; }
  else
    grep -q '^ENRICH_PG_DSN=' "$env" || { echo "$env: no ENRICH_PG_DSN" >&2; status=1; }
  fi
  if grep -v '^#' "$env" | grep -Eiq 'password='; then
    echo "$env: a password belongs in the pgpass credential" >&2
    status=1
  fi
done
((status == 0)) && echo "deploy/systemd: $(ls "$root"/deploy/systemd/*.service | wc -l) units verified"
exit "$status"
