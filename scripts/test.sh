#!/usr/bin/env bash
# The README's second command: installs what is missing, builds, and runs the whole test suite.
#   scripts/test.sh             Release build in build/
#   scripts/test.sh --sanitize  ASan + UBSan build in build-asan/
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/install-deps.sh" --test
if [ "${1:-}" = "--sanitize" ]; then
  export SIGMAFLOW_BUILD_DIR=${SIGMAFLOW_BUILD_DIR:-$root/build-asan}
  bash "$root/scripts/build.sh" -DSIGMAFLOW_SANITIZE=ON -DSIGMAFLOW_BUILD_BENCH=OFF
  # Torch's own allocator and static initialisers trip LeakSanitizer; leaks are not checked.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=0}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
else
  bash "$root/scripts/build.sh" -DSIGMAFLOW_BUILD_TESTS=ON -DSIGMAFLOW_BUILD_BENCH=ON
fi
build=${SIGMAFLOW_BUILD_DIR:-$root/build}
cd "$build"
ctest --output-on-failure -j "${SIGMAFLOW_TEST_JOBS:-2}"
