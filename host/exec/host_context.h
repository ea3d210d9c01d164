// The Context the host gives a running node: progress and messages go to the RunObserver,
// registries come from the PluginHost. One instance per node execution.
#pragma once

#include <string>
#include <vector>

#include "exec/executor.h"

namespace sf::host {

class HostContext : public Context {
 public:
  HostContext(const PluginHost& plugins, const RunOptions& options, const Graph& graph, const PlannedNode& node,
              RunObserver* observer, std::vector<std::string>& files)
      : plugins_(plugins), options_(options), graph_(graph), node_(node), observer_(observer), files_(files) {}

  const std::string& node_id() const override { return node_.id; }
  const std::string& class_type() const override { return node_.entry->contract.class_type; }
  void progress(int64_t done, int64_t total) override {
    if (observer_) observer_->node_progress(node_, done, total);
  }
  void info(const std::string& m) override {
    if (observer_) observer_->message(node_, false, m);
  }
  void warn(const std::string& m) override {
    if (observer_) observer_->message(node_, true, m);
  }
  std::string output_dir() const override { return options_.output_dir; }
  std::string cache_dir() const override { return options_.cache_dir; }
  c10::Device default_device() const override { return options_.device; }
  std::string graph_json() const override { return graph_.text; }
  std::string versions() const override { return options_.versions; }
  void record_output(const std::string& path) override { files_.push_back(path); }

  std::vector<std::string> schedule_names() const override { return plugins_.catalogue().schedule_names(); }
  bool compute_schedule(const std::string& name, const Model& model, int64_t steps, at::Tensor& sigmas,
                        std::string& error) const override {
    const ScheduleDef* def = plugins_.schedule(name);
    if (!def) {
      error = "unknown schedule '" + name + "'";
      return false;
    }
    return def->compute(model, steps, sigmas, error);
  }
  std::vector<std::string> sampler_names() const override { return plugins_.catalogue().sampler_names(); }
  std::shared_ptr<const Sampler> make_sampler(const std::string& name, std::string& error) const override {
    const SamplerDef* def = plugins_.sampler(name);
    if (!def) {
      error = "unknown sampler '" + name + "'";
      return nullptr;
    }
    return def->create(error);
  }

 private:
  const PluginHost& plugins_;
  const RunOptions& options_;
  const Graph& graph_;
  const PlannedNode& node_;
  RunObserver* observer_;
  std::vector<std::string>& files_;
};


}  // namespace sf::host
