#!/usr/bin/env bash
# Sourced by the deploy checks. deploy_venv makes a Python virtual
# environment with the pinned kubernetes-validate (which ships the Kubernetes
# JSON schemas, and brings PyYAML) under ${ENRICH_CACHE_DIR:-~/.cache/enrich},
# once, and sets ENRICH_DEPLOY_PYTHON and ENRICH_KUBERNETES_VALIDATE. Nothing
# is installed outside that directory. First install: about 30 s, 144 MB.
# Concurrent callers (ctest -j) wait on a lock; a half-made environment is
# recognised by its missing stamp and made again.
KUBERNETES_VALIDATE_VERSION=1.37.0

deploy_venv() {
  local cache="${ENRICH_CACHE_DIR:-$HOME/.cache/enrich}"
  local venv="$cache/deploy-venv-kv${KUBERNETES_VALIDATE_VERSION}"
  mkdir -p "$cache"
  (
    flock 9
    if [[ ! -e "$venv/.complete" ]]; then
      # Debian's interpreter (python3-venv), not whatever python3 PATH finds.
      local python=/usr/bin/python3
      [[ -x "$python" ]] || python="$(command -v python3)"
      echo "deploy: creating $venv" >&2
      rm -rf "$venv"
      "$python" -m venv "$venv" &&
        "$venv/bin/pip" install --quiet --disable-pip-version-check \
          "kubernetes-validate==${KUBERNETES_VALIDATE_VERSION}" &&
        touch "$venv/.complete"
    fi
  ) 9>"$cache/deploy-venv.lock"
  [[ -e "$venv/.complete" ]] || { echo "deploy: cannot make $venv" >&2; return 1; }
  ENRICH_DEPLOY_PYTHON="$venv/bin/python"
  ENRICH_KUBERNETES_VALIDATE="$venv/bin/kubernetes-validate"
}
