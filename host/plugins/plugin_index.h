// The plugin index: scans plugin folders (through the scanner's helper processes and cache),
// resolves names and builds the catalogue, without loading any plugin into this process. It is
// torch-free, so the front's `validate` and `nodes` run without LibTorch; PluginHost
// (plugin_host.h) adds loading on first use for the executor.
//
// Name resolution (the same for the CLI and the NodeRunner test harness): stock plugins (those in
// the host's own plugin folder) come first, then the others in the order given. The first plugin
// to register a class_type, schedule name or sampler name keeps it. A later plugin that registers
// the same name is refused for that name, with an error naming both plugins, unless it declares
// the replacement (NodeContract::overrides, ScheduleDef/SamplerDef::overrides); then it replaces
// the earlier one and override_notes() says so.
//
// Threading: scan and add_file from one thread; the accessors are safe to call concurrently once
// scanning is done.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "plugins/scanner.h"
#include "registry/catalogue.h"
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
// (1..600), default 20.
int plugin_timeout_seconds();

struct ScanOptions {
  std::vector<std::string> dirs;                   // searched in order (stock folders are resolved first anyway)
  std::string cache_dir;                           // where the scan cache lives; empty = no cache
  bool isolate = true;                             // scan in helper processes; false: load every plugin in-process now
  int timeout_seconds = plugin_timeout_seconds();  // per plugin scan
};

// The host's own plugin folder, <prefix>/lib/sigmaflow/plugins, found from the binary holding
// this code: <prefix>/bin/sigmaflow, <prefix>/libexec/sigmaflow/sigmaflow-exec, or a library in
// <prefix>/lib.
std::string stock_plugin_dir();

class PluginIndex {
 public:
  PluginIndex();
  virtual ~PluginIndex();
  PluginIndex(const PluginIndex&) = delete;
  PluginIndex& operator=(const PluginIndex&) = delete;

  // Scans every folder for *.so files. Problems are collected, never fatal. Resolves names and
  // builds the catalogue.
  void scan(const ScanOptions& options);
  // Adds one plugin file (as scan does for each file), then resolves again.
  Status add_file(const std::string& path, const ScanOptions& options);

  const Catalogue& catalogue() const { return catalogue_; }
  const std::vector<PluginInfo>& plugins() const { return plugins_; }
  const std::vector<PluginProblem>& problems() const { return problems_; }
  // "KarrasScheduler is provided by plugin X (path), overriding plugin Y (path)", one per
  // deliberate replacement.
  const std::vector<std::string>& override_notes() const { return overrides_; }
  const std::vector<std::string>& scanned_dirs() const { return dirs_; }

 protected:
  // ScanOptions::isolate = false: scan `path` by loading it into this process. The index alone
  // cannot (it loads no code) and refuses the plugin saying so; PluginHost can.
  virtual ScanRecord scan_in_this_process(const std::string& path);
  // Whether the plugin at `path` is loaded into this process (PluginInfo::loaded).
  virtual bool loaded_here(const std::string& path) const;

 private:
  ScanRecord scan_one(const std::string& path, const ScanOptions& options, ScanCache& cache);
  void resolve();
  void scan_uncached(const ScanOptions& options, ScanCache& cache);
  void add_names(const ScanRecord& record, PluginInfo& info);
  void add_registry_names(const std::vector<RegistryName>& names, bool samplers, PluginInfo& info);

  std::vector<ScanRecord> records_;  // in scan order
  std::vector<bool> stock_;
  Catalogue catalogue_;
  std::vector<PluginInfo> plugins_;
  std::vector<PluginProblem> problems_;
  std::vector<std::string> overrides_;
  std::vector<std::string> dirs_;
};

// The default plugin folders: the --plugins folders, then SIGMAFLOW_PLUGIN_PATH (colon
// separated), then the stock folder. `missing` receives folders that do not exist.
std::vector<std::string> default_plugin_dirs(const std::vector<std::string>& cli_dirs,
                                             std::vector<std::string>* missing = nullptr);

// Per-user cache folder: $SIGMAFLOW_CACHE_DIR, else $XDG_CACHE_HOME/sigmaflow, else
// ~/.cache/sigmaflow.
std::string default_cache_dir();

}  // namespace sf::host
