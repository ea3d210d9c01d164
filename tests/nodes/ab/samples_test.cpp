// Every graph in samples/ runs: at the sizes it ships with, except the training samples
// (train_*.json, one to several minutes each), which run with their training steps, data and
// batches cut to test size (every node and link as shipped).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "sigmaflow/testing/node_runner.h"

namespace sf {
namespace {

namespace fs = std::filesystem;

std::string shrunk(const std::string& text) {
  auto g = nlohmann::json::parse(text);
  const std::map<std::string, std::pair<std::string, int>> caps = {{"TrainDenoiser", {"steps", 60}},
                                                                   {"SampleData", {"n", 2000}},
                                                                   {"EmptyLatent", {"batch_size", 256}},
                                                                   {"ScheduleSweep", {"batch", 200}},
                                                                   {"LoadDataset", {"limit", 256}},
                                                                   {"EmptyLatentImage", {"batch_size", 4}},
                                                                   {"OptimalStepsScheduler", {"time_budget", 5}}};
  for (auto& [id, node] : g.items()) {
    auto it = caps.find(node.value("class_type", ""));
    if (it == caps.end()) continue;
    auto& v = node["inputs"][it->second.first];
    if (v.is_number() && v.get<double>() > it->second.second) v = it->second.second;
    if (it->first == "TrainDenoiser") node["inputs"]["burn_in"] = 20;
  }
  return g.dump();
}

TEST(Samples, EveryGraphValidatesAndRuns) {
  testing::NodeRunner runner({SF_PLUGIN_DIR});
  int graphs = 0;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(SF_SAMPLES_DIR))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    if (f.filename().string().rfind("train_", 0) == 0) text = shrunk(text);
    auto r = runner.run_graph(text, nullptr, f.parent_path().string());
    EXPECT_TRUE(r.ok) << f << ": " << r.error;
    EXPECT_FALSE(r.files.empty()) << f;
    ++graphs;
  }
  EXPECT_GE(graphs, 1);
}

}  // namespace
}  // namespace sf
