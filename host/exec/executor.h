// Execution: runs a validated plan node by node, caching results by input signature within the
// run, so a node shared by several branches (a model feeding two samplers) runs once.
#pragma once

#include <c10/core/Device.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "plugins/plugin_host.h"
#include "validate/validate.h"

namespace sf::host {

// Receives run events; the CLI prints them (progress bar on a terminal, lines otherwise).
class RunObserver {
 public:
  virtual ~RunObserver() = default;
  virtual void node_started(size_t index, size_t total, const PlannedNode& node) { (void)index; (void)total; (void)node; }
  virtual void node_progress(const PlannedNode& node, int64_t done, int64_t total) { (void)node; (void)done; (void)total; }
  virtual void node_finished(const PlannedNode& node, double seconds, bool cached) { (void)node; (void)seconds; (void)cached; }
  virtual void message(const PlannedNode& node, bool warning, const std::string& text) { (void)node; (void)warning; (void)text; }
};

struct RunOptions {
  std::string output_dir = "output";
  std::string cache_dir;
  c10::Device device = c10::Device(c10::kCPU);
  std::string versions;  // one line, embedded in reports
};

struct NodeRun {
  std::string id;
  std::string class_type;
  double seconds = 0.0;
  bool cached = false;
};

struct RunResult {
  Status status;  // non-ok: the first failing node's error, fully described
  std::string failed_node;
  std::string failed_input;
  std::vector<NodeRun> nodes;
  std::vector<std::string> files;  // files output nodes reported writing
  std::map<std::string, std::vector<Value>> outputs;  // node id -> its outputs
};

RunResult execute_plan(const PluginHost& plugins, const Graph& graph, const Plan& plan, const RunOptions& options,
                       RunObserver* observer = nullptr);

}  // namespace sf::host
