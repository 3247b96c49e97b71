#!/usr/bin/env bash
# The README's run command: installs what is missing, builds, brings up the
# local stack (PostgreSQL + Kafka) with the contract's source tables, and runs
# the pipeline on it.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

"$root/deploy/install-deps.sh"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -- -j"$(nproc)"

eval "$("$root/deploy/local/stack.sh" up)"
contract=${ENRICH_CONTRACT_DIR:-$root/../shared/contract}
psql "$ENRICH_PG_DSN" -X -q -v ON_ERROR_STOP=1 -f "$contract/source_schema.sql" >/dev/null

cat <<MSG
demo: the local stack is up.
  PostgreSQL  $ENRICH_PG_DSN   (source tables applied)
  Kafka       $ENRICH_KAFKA_BROKERS
demo: enrich-cdc and enrich-processor only print --help so far (issues 3
and 4); the pipeline is not running yet. Stop the stack with:
  deploy/local/stack.sh down
MSG
