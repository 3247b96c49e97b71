#!/usr/bin/env bash
# Builds the pgoutput fuzz target (tests/fuzz/pgoutput_decoder_fuzz.cc) with
# clang++ -fsanitize=fuzzer,address,undefined in a build directory of its own,
# seeds it from the real captures in tests/data/pgoutput and fuzzes for a
# bounded time. The main build stays g++; here only the pgoutput decoder
# (instrumented for the target, plain for the seed writer), the target and the
# seed writer are compiled. Debian's Abseil, built by g++, links fine: both
# compilers use libstdc++, and Debian pins Abseil's own string_view/optional.
#
#   tests/fuzz/run_libfuzzer.sh [WORK_DIR] [LIBFUZZER_FLAG...]
#
# WORK_DIR (default build/libfuzzer) holds the clang build (build/), the seeds
# (seeds/, rewritten each run), the corpus libFuzzer grows (corpus/, kept
# across runs), crash inputs (artifacts/), the full log (fuzz.log) and a
# one-line summary with the number of runs (summary.txt).
#
# Environment: ENRICH_FUZZ_SECONDS  fuzzing time (default 60)
#              ENRICH_FUZZ_CXX      compiler (default clang++, else clang++-14)
#              ENRICH_FUZZ_JOBS     build parallelism (default 2)
#
# Exit status: 0 when the time ran out with no finding; 77 (CTest's skip,
# tests/fuzz/CMakeLists.txt) when clang++ or its libFuzzer runtime is
# missing; anything else on a build failure, crash, sanitizer report, leak,
# per-input timeout or out-of-memory.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)

work=$root/build/libfuzzer
if (($#)) && [[ $1 != -* ]]; then
  work=$1
  shift
fi
mkdir -p "$work"
work=$(cd "$work" && pwd)
seconds=${ENRICH_FUZZ_SECONDS:-60}
rm -f "$work/summary.txt"

skip() {
  echo "run_libfuzzer: SKIPPED: $*" >&2
  exit 77
}

cxx=${ENRICH_FUZZ_CXX:-}
if [[ -z $cxx ]]; then
  for candidate in clang++ clang++-14; do
    if command -v "$candidate" >/dev/null; then
      cxx=$(command -v "$candidate")
      break
    fi
  done
fi
[[ -n $cxx ]] || skip "no clang++ on PATH; deploy/install-deps.sh installs clang and libclang-rt-14-dev"

# clang without its compiler-rt package compiles, but cannot link libFuzzer.
if ! "$cxx" -x c++ - -fsanitize=fuzzer,address,undefined -o "$work/probe" \
  2>"$work/probe.log" <<'EOF'; then
#include <cstddef>
#include <cstdint>
extern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }
EOF
  skip "$cxx cannot link -fsanitize=fuzzer (see $work/probe.log); install libclang-rt-14-dev"
fi

build=$work/build
start=$SECONDS
if ! cmake -S "$root" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$work/build.log" 2>&1 ||
  ! cmake --build "$build" --target pgoutput_decoder_fuzz pgoutput_fuzz_seeds \
    -- -j"${ENRICH_FUZZ_JOBS:-2}" >>"$work/build.log" 2>&1; then
  cat "$work/build.log" >&2
  echo "run_libfuzzer: the clang++ build failed (log: $work/build.log)" >&2
  exit 1
fi
echo "run_libfuzzer: built with $("$cxx" --version | head -n 1) in $((SECONDS - start)) s"

rm -rf "$work/seeds" "$work/artifacts"
mkdir -p "$work/seeds" "$work/corpus" "$work/artifacts"
"$build/bin/pgoutput_fuzz_seeds" "$work/seeds"

# -error_exitcode=1: libFuzzer's default, 77, is CTest's skip code here.
# NEW/REDUCE lines (one per corpus addition) and the NEW_FUNC lines under
# them go to fuzz.log only.
fuzzer=$build/bin/pgoutput_decoder_fuzz
echo "run_libfuzzer: fuzzing for ${seconds} s: $fuzzer $work/corpus $work/seeds"
set +e
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
  "$fuzzer" -max_total_time="$seconds" -timeout=10 -error_exitcode=1 \
  -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$@" \
  "$work/corpus" "$work/seeds" 2>&1 |
  tee "$work/fuzz.log" | grep -Ev '^(#[0-9]+[[:space:]]+(NEW|REDUCE) |[[:space:]]+NEW_FUNC)'
rc=${PIPESTATUS[0]}
set -e
((rc != 77)) || rc=1

stat() { sed -n "s/^stat::$1: *//p" "$work/fuzz.log" | tail -n 1; }
runs=$(stat number_of_executed_units)
cov=$(grep -Eo 'cov: [0-9]+' "$work/fuzz.log" | tail -n 1 || true)
secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$work/fuzz.log")
summary="libFuzzer pgoutput_decoder_fuzz: ${runs:-?} runs in ${secs:-?} s"
summary+=" ($(stat average_exec_per_sec) exec/s), ${cov:-cov: ?},"
summary+=" $(stat new_units_added) new units, corpus"
summary+=" $(find "$work/corpus" -type f | wc -l) files, peak RSS $(stat peak_rss_mb) MB"
if ((rc == 0)); then
  echo "$summary" | tee "$work/summary.txt"
else
  echo "$summary; FAILED (exit $rc)" | tee "$work/summary.txt"
  for artifact in "$work"/artifacts/*; do
    if [[ -e $artifact ]]; then
      echo "run_libfuzzer: reproduce with: $fuzzer $artifact"
    fi
  done
fi
exit "$rc"
