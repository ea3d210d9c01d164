// Execution: runs a validated plan node by node, caching results by input signature (a hash of
// class_type, literals and the signatures of linked inputs), so a node shared by several branches
// runs once. Around every node it enforces the contract: declared outputs, SIGMAS that are 1-D
// float32 CPU tensors of finite non-negative values, and inputs that were not written in place.
// A fatal signal inside a node is reported with the node's name (exit code 4).
#pragma once

#include <c10/core/Device.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "exec/node_source.h"
#include "graph/graph.h"
#include "validate/validate.h"

namespace sf::host {

// Receives run events; the CLI prints them (progress bar on a terminal, lines otherwise), the
// server forwards them to websocket clients.
class RunObserver {
 public:
  virtual ~RunObserver() = default;
  virtual void node_started(size_t index, size_t total, const PlannedNode& node) {
    (void)index;
    (void)total;
    (void)node;
  }
  virtual void node_progress(const PlannedNode& node, int64_t done, int64_t total) {
    (void)node;
    (void)done;
    (void)total;
  }
  virtual void node_finished(const PlannedNode& node, double seconds, bool cached) {
    (void)node;
    (void)seconds;
    (void)cached;
  }
  // The files a node wrote (or, served from the cache, wrote in an earlier run).
  virtual void node_files(const PlannedNode& node, const std::vector<std::string>& files) {
    (void)node;
    (void)files;
  }
  virtual void message(const PlannedNode& node, bool warning, const std::string& text) {
    (void)node;
    (void)warning;
    (void)text;
  }
};

struct RunOptions {
  std::string output_dir = "output";
  std::string cache_dir;
  c10::Device device = c10::Device(c10::kCPU);
  std::string versions;   // one line, embedded in reports
  std::string graph_dir;  // the graph file's folder (relative input paths); "" if none
  // When set (the server), file inputs resolve only inside these folders: see resolve_confined_path.
  std::vector<std::string> input_roots;
  bool overwrite = false;                        // output files keep fixed names instead of prefix_NNNNN_ counters
  const std::atomic<bool>* interrupt = nullptr;  // set: stop at the next node boundary or sampler step
  const Collectives* collectives = nullptr;      // the torchrun process group, or null (one process)
};

struct NodeRun {
  std::string id;
  std::string class_type;
  double seconds = 0.0;
  bool cached = false;
};

// Node outputs kept between runs (the server's cache), keyed by input signature, with the files
// output nodes wrote (a cached output node reports them again instead of writing them again).
struct OutputCache {
  std::map<std::string, std::vector<Value>> by_signature;
  std::map<std::string, std::vector<std::string>> files_by_signature;
};

struct RunResult {
  Status status;  // non-ok: the first failing node's error, fully described
  std::string failed_node;
  std::string failed_input;
  std::vector<NodeRun> nodes;
  std::vector<std::string> files;                                 // files output nodes reported writing
  std::map<std::string, std::vector<std::string>> files_by_node;  // node id -> its files (cached ones too)
  std::map<std::string, std::vector<Value>> outputs;              // node id -> its outputs
};

// Runs the check_inputs hook of every planned node that declares one (contract.checks_inputs) on
// its literal inputs, loading those nodes' plugins; problems come back as validation issues of
// type "custom_validation_failed" (ComfyUI's name), each naming node, input and value.
std::vector<ValidationIssue> check_literal_inputs(const NodeSource& source, const Plan& plan);

// `cache`: results of earlier runs to reuse (and to extend); null for a run of its own.
RunResult execute_plan(const NodeSource& source, const Graph& graph, const Plan& plan, const RunOptions& options,
                       RunObserver* observer = nullptr, OutputCache* cache = nullptr);

// The planned nodes `cache` would serve without running them (ComfyUI's execution_cached).
std::vector<std::string> cached_nodes(const Plan& plan, const OutputCache& cache);
// Drops every cache entry the plan does not use (the server keeps the last prompt's outputs,
// as ComfyUI does, so memory does not grow with the number of prompts).
void keep_only(OutputCache& cache, const Plan& plan);

}  // namespace sf::host
