#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, and runs the default A/B demo
# (samples/ab_schedulers.json: score-optimal vs stock schedules on an exact Gaussian mixture; no
# downloads, no weights). Prints the comparison table and where the report went.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/install-deps.sh"
# Only what the demo runs: the front, the executor, the plugin scanner and the five stock plugins
# the demo graph uses (scripts/build.sh builds the rest, images and training included;
# scripts/test.sh the tests and benchmarks, into the same folder).
SIGMAFLOW_TARGETS="sigmaflow schedulers sampling models ab_testing score_optimal" \
  bash "$root/scripts/build.sh" -DSIGMAFLOW_BUILD_TESTS=OFF -DSIGMAFLOW_BUILD_BENCH=OFF
build=${SIGMAFLOW_BUILD_DIR:-$root/build}
out=${SIGMAFLOW_OUT:-$root/output/demo}
"$build/bin/sigmaflow" run "$root/samples/ab_schedulers.json" --out "$out" --device auto
