// Plugin scanning, the build gate, loading, and the registries filled by plugins.
//
// Lifetime: plugins are loaded once and never unloaded (torch registrations and tensor deleters
// point into them); the PluginHost keeps every library handle until the process ends.
// Isolation: before a plugin is loaded into this process it is loaded once in a child process, so
// a plugin that crashes at load is reported and skipped instead of taking the host down. Verdicts
// are cached by path, size and mtime so the child is only forked for new or changed files.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "registry/catalogue.h"
#include "sigmaflow/build_record.h"
#include "sigmaflow/node.h"
#include "sigmaflow/status.h"

namespace sf::host {

// The host's own build record (what plugins must match).
const sf_build_record& host_build_record();

// Checks a plugin's record against the host's. The message names both values.
Status check_build_record(const sf_build_record& plugin, const sf_build_record& host);

// Contract sanity (unique input names, valid type strings, defaults within min/max and in choices,
// outputs typed). Returns every problem, empty if the contract is sound.
std::vector<std::string> check_contract(const NodeContract& c);

struct PluginInfo {
  std::string path;
  std::string name;
  std::string version;
  sf_build_record record{};
  std::vector<std::string> class_types;
};

struct PluginProblem {
  std::string path;
  std::string message;
};

struct ScanOptions {
  std::vector<std::string> dirs;  // searched in order; earlier dirs win class_type clashes
  std::string cache_dir;          // where the scan verdict cache lives; empty = no cache
  bool isolate = true;            // trial-load every new plugin in a child process first
};

class PluginHost {
 public:
  PluginHost();
  ~PluginHost();
  PluginHost(const PluginHost&) = delete;
  PluginHost& operator=(const PluginHost&) = delete;

  // Scans every folder for *.so files and loads them. Problems are collected, never fatal.
  void scan(const ScanOptions& options);
  // Loads one plugin file. A failed load leaves nothing registered from it.
  Status load(const std::string& path, bool isolate, const std::string& cache_dir = {});

  const Catalogue& catalogue() const { return catalogue_; }
  const NodeDef* node(const std::string& class_type) const;
  const ScheduleDef* schedule(const std::string& name) const;
  const SamplerDef* sampler(const std::string& name) const;
  const std::vector<PluginInfo>& plugins() const { return plugins_; }
  const std::vector<PluginProblem>& problems() const { return problems_; }
  const std::vector<std::string>& scanned_dirs() const { return dirs_; }

 private:
  class CollectingRegistrar;
  Catalogue catalogue_;
  std::map<std::string, NodeDef> nodes_;
  std::map<std::string, ScheduleDef> schedules_;
  std::map<std::string, SamplerDef> samplers_;
  std::vector<PluginInfo> plugins_;
  std::vector<PluginProblem> problems_;
  std::vector<std::string> dirs_;
  struct Libraries;
  std::unique_ptr<Libraries> libs_;
};

// In a child process about to load untrusted plugin code: restore the default actions of the
// fatal signals, so a crash ends the child by that signal (a sanitizer's or debugger's handler
// would otherwise turn it into an ordinary exit) and the parent can name it.
void reset_fatal_signal_handlers();

// The default plugin folders: the --plugins folders, then SIGMAFLOW_PLUGIN_PATH (colon
// separated), then <executable dir>/../lib/sigmaflow/plugins.
std::vector<std::string> default_plugin_dirs(const std::vector<std::string>& cli_dirs);

// Per-user cache folder: $SIGMAFLOW_CACHE_DIR, else $XDG_CACHE_HOME/sigmaflow, else
// ~/.cache/sigmaflow.
std::string default_cache_dir();

}  // namespace sf::host
