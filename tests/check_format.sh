#!/usr/bin/env bash
# Fails when a C++ source differs from clang-format (Google style, .clang-format).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mapfile -t files < <(git ls-files -co --exclude-standard -- '*.cc' '*.h' 2>/dev/null ||
  find cdc processor tests -name '*.cc' -o -name '*.h')
clang-format --dry-run --Werror "${files[@]}"
echo "format: ${#files[@]} files clean"
