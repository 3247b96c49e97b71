#!/usr/bin/env bash
# Regenerates the real pgoutput fixtures in tests/data/pgoutput/ (or OUT_DIR):
# starts a throwaway PostgreSQL 15 cluster (wal_level=logical) in a temp dir,
# builds and runs tests/tools/capture_pgoutput.cc against it, then stops the
# cluster and removes the temp dir.
#
#   tests/tools/capture_pgoutput.sh [OUT_DIR]
#
# PostgreSQL refuses to run as root, so as root the server runs as
# ENRICH_PG_OS_USER (default enrich-pg, which must exist). Needs g++ and
# libpq's headers. The bytes differ from run to run only in LSNs, xids,
# OIDs and timestamps; the unit tests assert on everything else.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(realpath -m "${1:-$root/tests/data/pgoutput}")
contract=${ENRICH_CONTRACT_DIR:-$root/../shared/contract}
bin=${ENRICH_PG_BINDIR:-/usr/lib/postgresql/15/bin}
pg_user=${ENRICH_PG_OS_USER:-enrich-pg}

as_pg() {
  if ((EUID == 0)); then runuser -u "$pg_user" -- "$@"; else "$@"; fi
}

work=$(mktemp -d /tmp/capture-pgoutput.XXXXXX)
((EUID == 0)) && chown "$pg_user" "$work"
cleanup() {
  as_pg "$bin/pg_ctl" -D "$work/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

as_pg "$bin/initdb" -D "$work/data" -U postgres --auth=trust \
  --encoding=UTF8 --locale=C.UTF-8 >"$work/initdb.log" 2>&1 ||
  { cat "$work/initdb.log" >&2; exit 1; }
cat >>"$work/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$work'
wal_level = logical
max_replication_slots = 16
max_wal_senders = 16
fsync = off
timezone = 'UTC'
CONF
as_pg "$bin/pg_ctl" -D "$work/data" -l "$work/server.log" -w -t 60 start >/dev/null ||
  { tail -n 20 "$work/server.log" >&2; exit 1; }
as_pg "$bin/createdb" -h "$work" -U postgres enrich

g++ -std=c++17 -O1 -Wall -Wextra -o "$work/capture_pgoutput" \
  "$root/tests/tools/capture_pgoutput.cc" \
  -I"$(pg_config --includedir)" -L"$(pg_config --libdir)" -lpq

mkdir -p "$out"
"$work/capture_pgoutput" --dsn "host=$work user=postgres dbname=enrich" \
  --schema "$contract/source_schema.sql" --out "$out"
ls -l "$out"
