// The plugin host: the plugin index (plugin_index.h: scanning, name resolution, the catalogue)
// plus loading a plugin into this process when one of its nodes, schedules or samplers is first
// used. The executor's NodeSource; needs LibTorch.
//
// Lifetime: plugins are loaded once and never unloaded. Threading: lookups may be called from
// any thread; loading is serialised.
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>

#include "exec/node_source.h"
#include "plugins/plugin_index.h"
#include "plugins/plugin_loader.h"
#include "sigmaflow/node.h"
#include "sigmaflow/status.h"

namespace sf::host {

class PluginHost : public PluginIndex, public NodeSource {
 public:
  PluginHost();
  ~PluginHost() override;

  const Catalogue& catalogue() const override { return PluginIndex::catalogue(); }
  // The definitions, loading the providing plugin first if needed; null when the name is unknown
  // or its plugin fails to load in-process (load_problem() then says why).
  const NodeDef* node(const std::string& class_type) const override;
  const ScheduleDef* schedule(const std::string& name) const override;
  const SamplerDef* sampler(const std::string& name) const override;
  std::string load_problem(const std::string& plugin_path) const override;
  // Plugins loaded into this process so far.
  size_t loaded_count() const;

 protected:
  ScanRecord scan_in_this_process(const std::string& path) override;
  bool loaded_here(const std::string& path) const override;

 private:
  Status ensure_loaded(const std::string& plugin_path) const;

  // Loaded definitions (filled when a plugin loads), keyed by name.
  mutable std::mutex mutex_;
  mutable std::map<std::string, NodeDef> nodes_;
  mutable std::map<std::string, ScheduleDef> schedules_;
  mutable std::map<std::string, SamplerDef> samplers_;
  mutable std::map<std::string, std::string> load_problems_;  // path -> why it failed
  mutable std::map<std::string, Registered> preloaded_;       // isolate = false: registrations so far
  mutable std::set<std::string> loaded_paths_;
};

}  // namespace sf::host
