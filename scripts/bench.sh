#!/usr/bin/env bash
# Runs the benchmarks of issue 7 (docs/performance.md): installs what is
# missing, builds the services, the tools and the benchmark binaries
# (RelWithDebInfo, in build/), runs okr-bench and the model microbenchmarks,
# and writes bench-results.md and bench-results.json at the repository top.
#
#   bash scripts/bench.sh                       # the full size (several minutes)
#   bash scripts/bench.sh --size=smoke          # seconds; arguments go to okr-bench
#   bash scripts/bench.sh --scenarios=cached_read --work_dir=/tmp/okr-bench
#
# The exit status is okr-bench's: 1 when a correctness check failed (a failed
# call, a lost check-in, a reminder sent twice). Missed targets are rows
# marked "no", not failures.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

build_dir=build
jobs="${OKR_JOBS:-$(nproc)}"
args=("$@")
if [[ ${#args[@]} -eq 0 ]]; then
  args=(--size=full)
fi

echo "== configure ($build_dir, RelWithDebInfo)"
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
echo "== build (-j$jobs)"
cmake --build "$build_dir" -j"$jobs" --target \
  okr-planning okr-tracking okr-notify okrctl okr-reminder-job \
  okr-bench-server okr-load okr-bench okr-microbench

results_md="$PWD/bench-results.md"
results_json="$PWD/bench-results.json"
echo "== okr-bench ${args[*]}"
status=0
"$build_dir/bin/okr-bench" "${args[@]}" --out="$results_md" --json_out="$results_json" \
  >/dev/null || status=$?
if [[ ! -s "$results_md" ]]; then
  echo "okr-bench wrote no table (exit $status)" >&2
  exit $((status == 0 ? 1 : status))
fi

echo "== okr-microbench"
{
  echo
  echo "## okr-microbench (model library)"
  echo
  echo '```'
  "$build_dir/bin/okr-microbench" --benchmark_min_time=0.2 2>&1 || echo "okr-microbench failed ($?)"
  echo '```'
} >>"$results_md"

echo
cat "$results_md"
echo
echo "Written: $results_md, $results_json"
exit "$status"
