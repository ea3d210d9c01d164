#!/usr/bin/env bash
# Configures and builds sigmaflow into build/ (or $SIGMAFLOW_BUILD_DIR). Extra arguments go to
# CMake's configure step, e.g. scripts/build.sh -DSIGMAFLOW_SANITIZE=ON. $SIGMAFLOW_TARGETS
# (space separated) builds only those targets and what they need; default: everything.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SIGMAFLOW_BUILD_DIR:-$root/build}
jobs=${SIGMAFLOW_JOBS:-$(nproc)}
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
elif [ $# -gt 0 ]; then
  cmake "$build" "$@" >/dev/null
fi
targets=()
[ -n "${SIGMAFLOW_TARGETS:-}" ] && read -r -a targets <<< "--target ${SIGMAFLOW_TARGETS}"
cmake --build "$build" -j "$jobs" "${targets[@]}"
