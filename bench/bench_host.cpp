// Host overhead: per-node cost on a chain of 1000 trivial nodes, and the time to scan and load
// all stock plugins (cold: no scan cache, child-process scans; warm: contracts from the cache).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "exec/executor.h"
#include "graph/graph.h"
#include "plugins/plugin_host.h"
#include "validate/validate.h"

using namespace sf::host;
namespace fs = std::filesystem;

static double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int main() {
  const int kNodes = 1000;
  {
    PluginHost host;
    ScanOptions in_process;
    in_process.isolate = false;
    if (!host.add_file(std::string(SF_FIXTURE_DIR) + "/good/fixture_good.so", in_process).ok()) return 1;
    std::string g = "{\"0\": {\"class_type\": \"FixtureConst\", \"inputs\": {\"value\": 0.0}}";
    for (int i = 1; i <= kNodes; ++i)
      g += ",\"" + std::to_string(i) + "\": {\"class_type\": \"FixtureAdd\", \"inputs\": {\"a\": [\"" +
           std::to_string(i - 1) + "\", 0], \"b\": " + std::to_string(i) + "}}";
    g += ",\"sink\": {\"class_type\": \"FixtureSink\", \"inputs\": {\"value\": [\"" + std::to_string(kNodes) +
         "\", 0]}}}";
    double best_exec = 1e9, best_prep = 1e9;
    for (int rep = 0; rep < 5; ++rep) {
      double t0 = now_s();
      auto parsed = parse_graph(g);
      auto v = validate_graph(*parsed, host.catalogue());
      double t1 = now_s();
      RunOptions o;
      o.output_dir = (fs::temp_directory_path() / "sigmaflow-bench-host").string();
      RunResult r = execute_plan(host, *parsed, v.plan, o, nullptr);
      double t2 = now_s();
      if (!r.status.ok()) {
        std::fprintf(stderr, "%s\n", r.status.message().c_str());
        return 1;
      }
      best_prep = std::min(best_prep, t1 - t0);
      best_exec = std::min(best_exec, t2 - t1);
    }
    std::printf("chain of %d trivial nodes: execute %.2f us/node, parse+validate %.2f us/node (best of 5)\n",
                kNodes + 2, best_exec / (kNodes + 2) * 1e6, best_prep / (kNodes + 2) * 1e6);
  }
  {
    std::string cache = (fs::temp_directory_path() / "sigmaflow-bench-scan").string();
    fs::remove_all(cache);
    for (const char* label : {"cold (child-process scans)", "warm (cached contracts, nothing loaded)"}) {
      double t0 = now_s();
      PluginHost host;
      ScanOptions o;
      o.dirs = {SF_PLUGIN_DIR};
      o.cache_dir = cache;
      host.scan(o);
      double t1 = now_s();
      std::printf("scan of %zu stock plugins (%zu nodes), %s: %.1f ms, %zu loaded in-process\n", host.plugins().size(),
                  host.catalogue().entries().size(), label, (t1 - t0) * 1e3, host.loaded_count());
    }
  }
  return 0;
}
