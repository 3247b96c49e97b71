#!/usr/bin/env bash
# Validates deploy/k8s/: every manifest against the Kubernetes JSON schemas
# (kubernetes-validate --strict: unknown fields are errors) for the oldest
# and the newest Kubernetes version we claim, then the cross-references the
# schemas cannot see (tests/deploy/check_k8s.py). Fails on any error, and on
# a kind without a schema other than Kustomization, Component and
# ServiceMonitor.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
source "$root/tests/deploy/python_venv.sh"
deploy_venv

mapfile -t manifests < <(find "$root/deploy/k8s" -name '*.yaml' | sort)
((${#manifests[@]})) || { echo "no manifests under deploy/k8s" >&2; exit 1; }

status=0
for version in 1.29.0 1.37.0; do
  out="$("$ENRICH_KUBERNETES_VALIDATE" --strict --quiet -k "$version" \
    "${manifests[@]}" 2>&1)" || status=1
  # --quiet prints only warnings and failures.
  unexpected="$(grep -v -E "Couldn't find schema for kind (Kustomization|Component|ServiceMonitor) " <<<"$out" || true)"
  if [[ -n "$unexpected" ]]; then
    echo "kubernetes $version:" >&2
    echo "$unexpected" >&2
    status=1
  fi
done
"$ENRICH_DEPLOY_PYTHON" "$root/tests/deploy/check_k8s.py" "$root/deploy/k8s" || status=1
((status == 0)) && echo "deploy/k8s: ${#manifests[@]} files valid (Kubernetes 1.29 and 1.37)"
exit "$status"
