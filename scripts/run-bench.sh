#!/usr/bin/env bash
# Runs every benchmark binary of a build (BUILD_DIR/bin/*_bench) and prints the results; the
# whole run takes about a minute, well under three. docs/performance.md explains the figures.
#
# Usage: scripts/run-bench.sh [BUILD_DIR]          (default: build; `make bench` calls this)
#
# Environment:
#   BENCH_MIN_TIME      seconds each Google Benchmark case runs per repetition (default 0.5)
#   BENCH_REPETITIONS   repetitions per case; mean, median, stddev and cv are printed (default 3)
#   REPLAY_STATUSES     statuses served by the end-to-end replay (default 20000)
#   BENCH_OUT           directory for the JSON results (default BUILD_DIR/bench-results)
#
# Google Benchmark binaries are told apart from plain ones (the replay) by whether they accept
# --benchmark_list_tests; plain ones get REPLAY_STATUSES and a time bound.
set -euo pipefail

build_dir="${1:-build}"
bin_dir="$build_dir/bin"
min_time="${BENCH_MIN_TIME:-0.5}"
repetitions="${BENCH_REPETITIONS:-3}"
replay_statuses="${REPLAY_STATUSES:-20000}"
out_dir="${BENCH_OUT:-$build_dir/bench-results}"
per_binary_timeout=150

shopt -s nullglob
benches=("$bin_dir"/*_bench)
if [ ${#benches[@]} -eq 0 ]; then
  echo "run-bench: no *_bench binaries in $bin_dir; build first (CHORUS_BUILD_BENCH=ON)" >&2
  exit 1
fi
mkdir -p "$out_dir"

build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build_dir/CMakeCache.txt" 2>/dev/null || true)
sanitize=$(sed -n 's/^CHORUS_SANITIZE:[A-Z]*=//p' "$build_dir/CMakeCache.txt" 2>/dev/null || true)
echo "== Chorus benchmarks"
echo "revision:   $(git -C "$(dirname "$0")/.." rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
echo "machine:    $(nproc) CPUs, $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n1)"
echo "load:       $(cut -d' ' -f1-3 /proc/loadavg) (figures are noisy when the machine is shared)"
echo "build:      $build_dir (CMAKE_BUILD_TYPE=${build_type:-unknown}, CHORUS_SANITIZE=${sanitize:-OFF})"
case "$build_type" in
  Release | RelWithDebInfo) ;;
  *) echo "warning: not an optimized build; figures will not match docs/performance.md" >&2 ;;
esac
if [ "$sanitize" = "ON" ]; then
  echo "warning: sanitizers are on; figures will not match docs/performance.md" >&2
fi

failed=0
for bench in "${benches[@]}"; do
  name=$(basename "$bench")
  echo
  echo "== $name"
  if "$bench" --benchmark_list_tests=true >/dev/null 2>&1; then
    timeout "$per_binary_timeout" "$bench" \
      --benchmark_min_time="$min_time" \
      --benchmark_repetitions="$repetitions" \
      --benchmark_report_aggregates_only=true \
      --benchmark_out="$out_dir/$name.json" --benchmark_out_format=json || {
      echo "run-bench: $name failed (exit $?)" >&2
      failed=1
    }
  else
    timeout "$per_binary_timeout" "$bench" --statuses="$replay_statuses" \
      --max-seconds=$((per_binary_timeout - 30)) | tee "$out_dir/$name.txt" || {
      echo "run-bench: $name failed" >&2
      failed=1
    }
  fi
done

echo
echo "JSON results in $out_dir"
exit "$failed"
