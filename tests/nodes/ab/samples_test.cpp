// Every graph in samples/ runs (at the sizes it ships with, which are small).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "sigmaflow/testing/node_runner.h"

namespace sf {
namespace {

namespace fs = std::filesystem;

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
    auto r = runner.run_graph(ss.str(), nullptr, f.parent_path().string());
    EXPECT_TRUE(r.ok) << f << ": " << r.error;
    EXPECT_FALSE(r.files.empty()) << f;
    ++graphs;
  }
  EXPECT_GE(graphs, 1);
}

}  // namespace
}  // namespace sf
