#!/usr/bin/env bash
# Checks deploy/prometheus/ and deploy/grafana/: the alert rules parse
# (promtool check rules) and pass their unit tests (promtool test rules);
# every dashboard expression parses (written as recording rules for promtool);
# every metric name used by either is registered by the code
# (check_metric_names.py).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
command -v promtool >/dev/null || {
  echo "promtool missing: deploy/install-deps.sh installs Debian's prometheus" >&2
  exit 1
}
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

python3 "$root/tests/deploy/check_metric_names.py" "$root" \
  --dashboard-rules "$tmp/dashboard-rules.yml"
promtool check rules "$root"/deploy/prometheus/*-rules.yml
promtool check rules "$tmp/dashboard-rules.yml"
(cd "$root/deploy/prometheus" && promtool test rules ./*.test.yml)
(cd "$root/deploy/prometheus" && promtool check config prometheus.example.yml)
# Every runbook_url names a section of deploy/README.md.
status=0
while read -r anchor; do
  heading="$(grep -E '^#{2,4} ' "$root/deploy/README.md" |
    sed -E 's/^#+ //' | tr 'A-Z' 'a-z' | tr -d '`' | tr ' ' '-' |
    grep -Fx "$anchor" || true)"
  [[ -n "$heading" ]] || { echo "runbook anchor #$anchor missing in deploy/README.md" >&2; status=1; }
done < <(grep -ho 'runbook_url: deploy/README.md#[a-z0-9-]*' "$root"/deploy/prometheus/*-rules.yml | sed 's/.*#//')
exit "$status"
