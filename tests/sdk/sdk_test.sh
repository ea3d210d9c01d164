#!/usr/bin/env bash
# SDK test: install this build into a temporary prefix, build samples/third_party_node against it
# in a clean folder (with the package's precompiled header), run its tests, `plugin check` it, run
# a graph that mixes its nodes and sampler with stock ones, and check that a plugin built with the
# wrong C++ ABI flag fails at configure time.
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
for f in cosine_00001_.json range_00001_.csv samples_00001_.npy; do
  test -s "$tmp/out/third_party/$f" || { echo "missing output $f"; exit 1; }
done

# A plugin that sets the other C++ ABI flag is a configure error naming the flag.
mkdir -p "$tmp/abi"
cat > "$tmp/abi/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.25)
project(abi_mismatch LANGUAGES CXX)
find_package(sigmaflow REQUIRED)
sigmaflow_add_plugin(bad SOURCES bad.cpp)
target_compile_definitions(bad PRIVATE _GLIBCXX_USE_CXX11_ABI=0)
CMAKE
echo '#include <sigmaflow/plugin.h>
SIGMAFLOW_PLUGIN("bad", "1") { (void)registrar; }' > "$tmp/abi/bad.cpp"
if cmake -S "$tmp/abi" -B "$tmp/abi/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" > "$tmp/abi/log" 2>&1; then
  echo "configure should have failed for _GLIBCXX_USE_CXX11_ABI=0"; exit 1
fi
grep -q "sets _GLIBCXX_USE_CXX11_ABI=0" "$tmp/abi/log" || { cat "$tmp/abi/log"; exit 1; }
echo "sdk test: installed package, out-of-tree plugin and sampler, its tests, a mixed graph and the ABI check passed"
