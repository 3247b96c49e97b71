#!/usr/bin/env bash
# Builds the fuzz targets with clang++ -fsanitize=fuzzer,address,undefined in
# a build directory of its own, seeds them and fuzzes each for a bounded
# time, one after the other:
#   pgoutput_decoder_fuzz   walsender framing, pgoutput decoder, relation
#                           cache (tests/fuzz/pgoutput_decoder_fuzz.cc), seeded
#                           from the real captures in tests/data/pgoutput
#   change_event_view_fuzz  the processor's reading of events: ChangeEventView
#                           then the affected-row planner
#                           (tests/fuzz/change_event_view_fuzz.cc), seeded
#                           from sample events (change_event_fuzz_input.h)
# The main build stays g++; here only what the targets and their seed writers
# need is compiled (the code under test instrumented, the rest plain).
# Debian's Abseil, built by g++, links fine: both compilers use libstdc++, and
# Debian pins Abseil's own string_view/optional.
#
#   tests/fuzz/run_libfuzzer.sh [WORK_DIR] [LIBFUZZER_FLAG...]
#
# WORK_DIR (default build/libfuzzer) holds the clang build (build/) and, per
# target, the seeds (seeds/<target>/, rewritten each run), the corpus
# libFuzzer grows (corpus/<target>/, kept across runs), crash inputs
# (artifacts/<target>/) and the full log (fuzz-<target>.log); summary.txt has
# one line per target with its number of runs. LIBFUZZER_FLAGs go to every
# target.
#
# Environment: ENRICH_FUZZ_SECONDS  fuzzing time, split evenly between the
#                                   targets (default 60: 30 s each)
#              ENRICH_FUZZ_TARGETS  targets to run, space-separated (default
#                                   both)
#              ENRICH_FUZZ_CXX      compiler (default clang++, else clang++-14)
#              ENRICH_FUZZ_JOBS     build parallelism (default 2)
#
# Exit status: 0 when the time ran out with no finding; 77 (CTest's skip,
# tests/fuzz/CMakeLists.txt) when clang++ or its libFuzzer runtime is
# missing; anything else on a build failure, or a crash, sanitizer report,
# leak, per-input timeout or out-of-memory in any target (every target runs
# even when an earlier one failed).
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
read -r -a targets <<<"${ENRICH_FUZZ_TARGETS:-pgoutput_decoder_fuzz change_event_view_fuzz}"
rm -f "$work/summary.txt"

# Each target's seed writer.
seed_writer() {
  case $1 in
    pgoutput_decoder_fuzz) echo pgoutput_fuzz_seeds ;;
    change_event_view_fuzz) echo change_event_fuzz_seeds ;;
    *)
      echo "run_libfuzzer: unknown target $1" >&2
      exit 2
      ;;
  esac
}
((${#targets[@]})) || { echo "run_libfuzzer: no targets" >&2; exit 2; }
build_targets=()
for target in "${targets[@]}"; do
  writer=$(seed_writer "$target")
  build_targets+=("$target" "$writer")
done
share=$((seconds / ${#targets[@]}))
((share > 0)) || share=1

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
  ! cmake --build "$build" --target "${build_targets[@]}" \
    -- -j"${ENRICH_FUZZ_JOBS:-2}" >>"$work/build.log" 2>&1; then
  cat "$work/build.log" >&2
  echo "run_libfuzzer: the clang++ build failed (log: $work/build.log)" >&2
  exit 1
fi
echo "run_libfuzzer: built with $("$cxx" --version | head -n 1) in $((SECONDS - start)) s"

rm -rf "$work/seeds" "$work/artifacts"

# Fuzzes target $1 for $share seconds; appends its line to summary.txt and
# returns its exit status.
fuzz() {
  local name=$1
  local fuzzer=$build/bin/$name
  local seeds=$work/seeds/$name corpus=$work/corpus/$name
  local artifacts=$work/artifacts/$name log=$work/fuzz-$name.log
  mkdir -p "$seeds" "$corpus" "$artifacts"
  # Called in an || list, where set -e does not act: check by hand.
  "$build/bin/$(seed_writer "$name")" "$seeds" || return 1

  # -error_exitcode=1: libFuzzer's default, 77, is CTest's skip code here.
  # NEW/REDUCE lines (one per corpus addition) and the NEW_FUNC lines under
  # them go to the log only.
  echo "run_libfuzzer: fuzzing for ${share} s: $fuzzer $corpus $seeds"
  local rc
  set +e
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
    "$fuzzer" -max_total_time="$share" -timeout=10 -error_exitcode=1 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "${flags[@]}" \
    "$corpus" "$seeds" 2>&1 |
    tee "$log" | grep -Ev '^(#[0-9]+[[:space:]]+(NEW|REDUCE) |[[:space:]]+NEW_FUNC)'
  rc=${PIPESTATUS[0]}
  set -e
  ((rc != 77)) || rc=1

  stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -n 1; }
  local runs cov secs summary
  runs=$(stat number_of_executed_units)
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1 || true)
  secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log")
  summary="libFuzzer $name: ${runs:-?} runs in ${secs:-?} s"
  summary+=" ($(stat average_exec_per_sec) exec/s), ${cov:-cov: ?},"
  summary+=" $(stat new_units_added) new units, corpus"
  summary+=" $(find "$corpus" -type f | wc -l) files, peak RSS $(stat peak_rss_mb) MB"
  if ((rc == 0)); then
    echo "$summary" | tee -a "$work/summary.txt"
  else
    echo "$summary; FAILED (exit $rc)" | tee -a "$work/summary.txt"
    for artifact in "$artifacts"/*; do
      if [[ -e $artifact ]]; then
        echo "run_libfuzzer: reproduce with: $fuzzer $artifact"
      fi
    done
  fi
  return "$rc"
}

flags=("$@")
status=0
for target in "${targets[@]}"; do
  rc=0
  fuzz "$target" || rc=$?
  ((status != 0)) || status=$rc
done
exit "$status"
