// The plugin host: scans plugin folders (through the scanner's child processes and cache),
// resolves names, builds the catalogue, and loads a plugin into this process only when one of
// its nodes, schedules or samplers is first used.
//
// Name resolution (the same for the CLI and the NodeRunner test harness): stock plugins (those in
// the host's own plugin folder) come first, then the others in the order given. The first plugin
// to register a class_type, schedule name or sampler name keeps it. A later plugin that registers
// the same name is refused for that name, with an error naming both plugins, unless it declares
// the replacement (NodeContract::overrides, ScheduleDef/SamplerDef::overrides); then it replaces
// the earlier one and override_notes() says so.
//
// Lifetime: plugins are loaded once and never unloaded. Threading: lookups may be called from
// any thread; loading is serialised.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "exec/node_source.h"
#include "plugins/scanner.h"
#include "registry/catalogue.h"
#include "sigmaflow/node.h"
#include "sigmaflow/status.h"

namespace sf::host {

struct PluginInfo {
  std::string path;
  std::string name;
  std::string version;
  sf_build_record record{};
  bool stock = false;
  bool loaded = false;                   // in this process
  std::vector<std::string> class_types;  // the names it provides after resolution
};

struct PluginProblem {
  std::string path;
  std::string message;
};

// How long a plugin may take to load in a scan or check child: SIGMAFLOW_PLUGIN_TIMEOUT seconds
// (1..999), default 20.
int plugin_timeout_seconds();

struct ScanOptions {
  std::vector<std::string> dirs;                   // searched in order (stock folders are resolved first anyway)
  std::string cache_dir;                           // where the scan cache lives; empty = no cache
  bool isolate = true;                             // scan in child processes; false: load every plugin in-process now
  int timeout_seconds = plugin_timeout_seconds();  // per plugin scan
};

// The host's own plugin folder: <prefix>/lib/sigmaflow/plugins next to the running binary (the
// executable in <prefix>/bin, or a library in <prefix>/lib).
std::string stock_plugin_dir();

class PluginHost : public NodeSource {
 public:
  PluginHost();
  ~PluginHost() override;
  PluginHost(const PluginHost&) = delete;
  PluginHost& operator=(const PluginHost&) = delete;

  // Scans every folder for *.so files. Problems are collected, never fatal. Resolves names and
  // builds the catalogue.
  void scan(const ScanOptions& options);
  // Adds one plugin file (as scan does for each file), then resolves again.
  Status add_file(const std::string& path, const ScanOptions& options);

  const Catalogue& catalogue() const override { return catalogue_; }
  // The definitions, loading the providing plugin first if needed; null when the name is unknown
  // or its plugin fails to load in-process (load_problem() then says why).
  const NodeDef* node(const std::string& class_type) const override;
  const ScheduleDef* schedule(const std::string& name) const override;
  const SamplerDef* sampler(const std::string& name) const override;
  std::string load_problem(const std::string& plugin_path) const override;

  const std::vector<PluginInfo>& plugins() const { return plugins_; }
  const std::vector<PluginProblem>& problems() const { return problems_; }
  // "KarrasScheduler is provided by plugin X (path), overriding plugin Y (path)", one per
  // deliberate replacement.
  const std::vector<std::string>& override_notes() const { return overrides_; }
  const std::vector<std::string>& scanned_dirs() const { return dirs_; }
  // Plugins loaded into this process so far.
  size_t loaded_count() const;

 private:
  void resolve();
  void scan_uncached(const ScanOptions& options, ScanCache& cache);
  void add_names(const ScanRecord& record, PluginInfo& info);
  void add_registry_names(const std::vector<RegistryName>& names, bool samplers, PluginInfo& info);
  Status ensure_loaded(const std::string& plugin_path) const;

  std::vector<ScanRecord> records_;  // in scan order
  std::vector<bool> stock_;
  Catalogue catalogue_;
  std::vector<PluginInfo> plugins_;
  std::vector<PluginProblem> problems_;
  std::vector<std::string> overrides_;
  std::vector<std::string> dirs_;
  // Loaded definitions (filled when a plugin loads), keyed by name.
  mutable std::mutex mutex_;
  mutable std::map<std::string, NodeDef> nodes_;
  mutable std::map<std::string, ScheduleDef> schedules_;
  mutable std::map<std::string, SamplerDef> samplers_;
  mutable std::map<std::string, std::string> load_problems_;  // path -> why it failed
  mutable std::map<std::string, Registered> preloaded_;       // isolate = false: registrations so far
  mutable std::set<std::string> loaded_paths_;
};

// The default plugin folders: the --plugins folders, then SIGMAFLOW_PLUGIN_PATH (colon
// separated), then the stock folder. `missing` receives folders that do not exist.
std::vector<std::string> default_plugin_dirs(const std::vector<std::string>& cli_dirs,
                                             std::vector<std::string>* missing = nullptr);

// Per-user cache folder: $SIGMAFLOW_CACHE_DIR, else $XDG_CACHE_HOME/sigmaflow, else
// ~/.cache/sigmaflow.
std::string default_cache_dir();

}  // namespace sf::host
