# contract_dir REPO_ROOT: where the team's contract (source_schema.sql,
# enriched_reference.sql) is, for scripts that need it. In order:
# $ENRICH_CONTRACT_DIR; ../shared/contract beside the repo; ../shared/contract
# beside the checkout this one was cloned from, when `origin` is a local
# directory (a `git clone .` into a temp dir, as the fresh-machine check
# does). Prints the first that holds source_schema.sql, else the second
# (callers report it missing).
contract_dir() {
  local root=$1 origin
  if [[ -n "${ENRICH_CONTRACT_DIR:-}" ]]; then
    echo "$ENRICH_CONTRACT_DIR"
    return
  fi
  if [[ ! -f "$root/../shared/contract/source_schema.sql" ]]; then
    origin=$(git -C "$root" remote get-url origin 2>/dev/null || true)
    if [[ -n "$origin" && -f "$origin/../shared/contract/source_schema.sql" ]]; then
      (cd "$origin/../shared/contract" && pwd)
      return
    fi
  fi
  echo "$root/../shared/contract"
}
