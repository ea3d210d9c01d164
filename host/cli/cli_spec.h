// The sigmaflow command line: its options and subcommands, parsed the same way by the torch-free
// front (bin/sigmaflow: validate, nodes) and by the executor it execs for everything else
// (libexec/sigmaflow/sigmaflow-exec: run, serve, plugin check, --version). Torch-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

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

enum class Command { kNone, kVersion, kRun, kValidate, kNodes, kPluginCheck, kServe, kServeWorker };

struct ParsedCli {
  Command command = Command::kNone;
  CliOptions options;
  int exit_code = -1;  // >= 0: parsing ended the command (help printed, or a usage error); exit with it
  int threads = 1;     // intra-op threads: SIGMAFLOW_THREADS, else the cores shared among torchrun's local ranks
};

// Parses argv and checks the environment variables sigmaflow reads (SIGMAFLOW_THREADS,
// SIGMAFLOW_MEMORY_LIMIT, SIGMAFLOW_PLUGIN_TIMEOUT): junk is a usage error, printed here.
ParsedCli parse_cli(int argc, char** argv);

}  // namespace sf::host
