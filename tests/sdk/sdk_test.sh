#!/usr/bin/env bash
# SDK test: install this build into a temporary prefix, build samples/third_party_node against it
# in a clean folder, run its tests, and run a graph that mixes its nodes with stock ones.
#   sdk_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
cmake -S "$src/samples/third_party_node" -B "$tmp/build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/build" -j 2
(cd "$tmp/build" && ctest --output-on-failure)
"$tmp/prefix/bin/sigmaflow" plugin check "$tmp/build/my_nodes.so"
SIGMAFLOW_CACHE_DIR="$tmp/cache" "$tmp/prefix/bin/sigmaflow" run "$src/samples/third_party_node/graph.json" \
  --plugins "$tmp/build" --out "$tmp/out"
for f in cosine.json range.csv samples.npy; do
  test -s "$tmp/out/third_party/$f" || { echo "missing output $f"; exit 1; }
done
echo "sdk test: installed package, out-of-tree plugin, its tests and a mixed graph all passed"
