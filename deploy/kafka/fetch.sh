#!/usr/bin/env bash
# Copies the pinned Kafka broker and its runtime dependencies from Maven
# Central into a cache outside the repository, once. Prints the libs dir.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")
cache=${ENRICH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/enrich}
libs="$cache/kafka-$version/libs"
if [[ -f "$libs/.complete" ]]; then
  echo "$libs"
  exit 0
fi
echo "fetch-kafka: downloading Kafka $version from Maven Central into $libs" >&2
rm -rf "$libs.tmp"
mkdir -p "$libs.tmp" "$cache"
if ! mvn -B -q -f "$here/pom.xml" dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$libs.tmp" >"$cache/mvn.log" 2>&1; then
  cat "$cache/mvn.log" >&2
  echo "fetch-kafka: Maven could not fetch Kafka $version (log above)" >&2
  exit 1
fi
rm -rf "$libs"
mv "$libs.tmp" "$libs"
touch "$libs/.complete"
echo "$libs"
