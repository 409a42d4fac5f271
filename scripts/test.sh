#!/usr/bin/env bash
# Runs every test of the suite: installs what is missing, builds, runs CTest.
#
#   bash scripts/test.sh                 # all tests, warnings are errors
#   OKR_SANITIZE=1 bash scripts/test.sh  # the same under ASan+UBSan (build-asan/)
#   bash scripts/test.sh -L unit         # extra arguments go to ctest
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

build_dir=build
cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DOKR_WERROR=ON)
if [[ "${OKR_SANITIZE:-0}" == "1" ]]; then
  build_dir=build-asan
  cmake_args+=(-DOKR_SANITIZE=ON)
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
fi
jobs="${OKR_JOBS:-$(nproc)}"

echo "== configure ($build_dir)"
cmake -S . -B "$build_dir" "${cmake_args[@]}" >/dev/null
echo "== build (-j$jobs)"
cmake --build "$build_dir" -j"$jobs"
echo "== test"
ctest --test-dir "$build_dir" --output-on-failure -j"$jobs" "$@"
