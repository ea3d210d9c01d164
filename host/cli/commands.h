// The subcommands of the sigmaflow command line (cli/app.cpp parses and dispatches).
#pragma once

#include <string>
#include <vector>

#include "plugins/plugin_host.h"

namespace sf::host {

struct CliOptions {
  std::string graph_path;
  std::string out_dir = "output";
  std::string device = "auto";
  std::vector<std::string> plugin_dirs;
  std::string plugin_file;
  bool as_json = false;
  bool overwrite = false;
  bool verbose = false;
  // serve
  std::string listen = "127.0.0.1";
  int port = 8188;
  size_t max_queue = 1000;
  std::string cors_origin;
  uint64_t max_body_mb = 64;
  int idle_timeout_s = 60;
  size_t max_connections = 256;
  std::string input_dir;   // "" : <--out>/../input
  std::string models_dir;  // "" : <--out>/../models
  std::vector<std::string> allowed_hosts;
  uint64_t max_queue_mb = 512;
};

// Scans the plugin folders (no plugin is loaded into this process) and reports problems, missing
// folders and deliberate overrides on stderr unless `quiet`.
void scan_plugins(PluginHost& host, const CliOptions& o, bool quiet);

int cmd_run(const CliOptions& o);
int cmd_validate(const CliOptions& o);
int cmd_nodes(const CliOptions& o);
int cmd_plugin_check(const CliOptions& o);
int cmd_version(const CliOptions& o);
int cmd_serve(const CliOptions& o);
int cmd_serve_worker(const CliOptions& o);

std::string versions_line();

}  // namespace sf::host
