#!/usr/bin/env bash
# Copies a Kafka Connect standalone worker (connect-runtime and friends, of
# the broker's version pinned in deploy/kafka/pom.xml) and Debezium's
# PostgreSQL connector from Maven Central into a cache outside the
# repository, once. Prints the libs dir (one flat classpath: the worker runs
# the connector from its classpath, no plugin.path). Used only by the
# Debezium leg of tests/bench/cdc_throughput.sh (BENCH_DEBEZIUM=1).
# DEBEZIUM_VERSION overrides the pom's debezium.version (each version gets
# its own cache dir, and the benchmark prints the one it ran).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
kafka_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$root/deploy/kafka/pom.xml")
pom_kafka=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")
[[ "$kafka_version" == "$pom_kafka" ]] || {
  echo "fetch-debezium: $here/pom.xml pins Kafka $pom_kafka, the broker is $kafka_version" >&2
  exit 1; }
dbz_version=${DEBEZIUM_VERSION:-$(sed -n 's:.*<debezium.version>\(.*\)</debezium.version>.*:\1:p' "$here/pom.xml")}
cache=${ENRICH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/enrich}
libs="$cache/debezium-$dbz_version-connect-$kafka_version/libs"
if [[ -f "$libs/.complete" ]]; then
  echo "$libs"
  exit 0
fi
echo "fetch-debezium: downloading Debezium $dbz_version and Kafka Connect $kafka_version" \
     "from Maven Central into $libs" >&2
rm -rf "$libs.tmp"
mkdir -p "$libs.tmp" "$cache"
if ! mvn -B -q -f "$here/pom.xml" dependency:copy-dependencies \
  -Ddebezium.version="$dbz_version" \
  -DincludeScope=runtime -DoutputDirectory="$libs.tmp" >"$cache/mvn-debezium.log" 2>&1; then
  cat "$cache/mvn-debezium.log" >&2
  echo "fetch-debezium: Maven could not fetch Debezium $dbz_version (log above)" >&2
  exit 1
fi
rm -rf "$libs"
mv "$libs.tmp" "$libs"
touch "$libs/.complete"
echo "$libs"
