// NodeRunner: run one node (or a small graph) from a test, through the same plugin loading, name
// resolution, validation and execution code the sigmaflow executable uses: a node run here gets
// the same checks (literal coercion, link types and capabilities, constraints, declared outputs,
// SIGMAS shape, inputs not written in place) as in `sigmaflow run`. Link against
// sigmaflow::testing.
//
//   sf::testing::NodeRunner runner({"/path/to/plugins"});
//   auto r = runner.run("KarrasScheduler", R"({"steps": 5, "sigma_min": 0.002, "sigma_max": 80})");
//   ASSERT_TRUE(r.ok) << r.error;
//   at::Tensor sigmas = r.outputs[0].tensor();
//
// Plugins are loaded in this process (no child-process scan); names resolve as in the CLI: the
// stock plugin folder first, then the given paths in order.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sigmaflow/node.h"

namespace sf::testing {

struct NodeRun {
  bool ok = false;
  // For failures: "validation" (refused before running, like `sigmaflow validate`) or
  // "execution"; the message names node, class_type, input and value as the CLI does.
  std::string error_kind;
  std::string error_type;  // ComfyUI type for validation failures
  std::string error;
  std::string error_input;
  Outputs outputs;
  std::vector<std::string> messages;  // info/warn lines the node emitted
  std::vector<std::string> files;     // files it reported writing
};

class NodeRunner {
 public:
  // `plugin_paths`: plugin folders or single .so files. `output_dir`: where output nodes write
  // (default: a fresh temporary folder). Output files keep fixed names (no _NNNNN_ counters)
  // unless set_overwrite(false).
  explicit NodeRunner(const std::vector<std::string>& plugin_paths, std::string output_dir = "");
  ~NodeRunner();
  NodeRunner(const NodeRunner&) = delete;
  NodeRunner& operator=(const NodeRunner&) = delete;

  // Problems met while loading (refused plugins, refused names, bad contracts).
  std::vector<std::string> load_problems() const;
  bool has_node(const std::string& class_type) const;
  // The plugin that provides a class_type after name resolution ("" if none).
  std::string provider(const std::string& class_type) const;
  std::vector<std::string> schedule_names() const;
  std::vector<std::string> sampler_names() const;

  // Runs one node. `literals_json` is the node's "inputs" object as in a graph file (literals
  // only); `values` feed the other inputs (MODEL, SIGMAS, ...). Missing literals take defaults.
  NodeRun run(const std::string& class_type, const std::string& literals_json = "{}",
              const std::map<std::string, Value>& values = {});
  // Runs a whole graph (graph-file JSON); `node_outputs` receives every node's outputs.
  // `graph_dir` plays the graph file's folder (relative input paths resolve against it too).
  NodeRun run_graph(const std::string& graph_json, std::map<std::string, Outputs>* node_outputs = nullptr,
                    const std::string& graph_dir = "");

  const std::string& output_dir() const;
  void set_default_device(c10::Device device);
  void set_overwrite(bool overwrite);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sf::testing
