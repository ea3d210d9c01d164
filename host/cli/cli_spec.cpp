#include "cli/cli_spec.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <thread>

#include "cli/app.h"
#include "validate/validate.h"

namespace sf::host {

namespace {

// SIGMAFLOW_THREADS: an integer in 1 .. 4 x cores; anything else is a usage error (a huge value
// would make LibTorch spawn thousands of threads and hang). Default: every core, shared out among
// the processes torchrun starts on this machine (LOCAL_WORLD_SIZE): two ranks with two threads
// each on two cores took 4.0 s for a sharded estimate that one thread each did in 2.8 s.
bool thread_count(int& threads, std::string& error) {
  int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  int n = cores;
  if (const char* local = std::getenv("LOCAL_WORLD_SIZE"); local && *local) {
    std::string text = local;
    if (text.size() <= 6 && text.find_first_not_of("0123456789") == std::string::npos && std::stoi(text) > 0)
      n = std::max(1, cores / std::stoi(text));
  }
  if (const char* env = std::getenv("SIGMAFLOW_THREADS"); env && *env) {
    std::string text = env;
    bool digits = text.size() <= 9 && text.find_first_not_of("0123456789") == std::string::npos;
    n = digits ? std::stoi(text) : -1;
    if (n < 1 || n > 4 * cores) {
      error = "SIGMAFLOW_THREADS='" + text.substr(0, 40) + "': expected an integer from 1 to " +
              std::to_string(4 * cores) + " (4 x the " + std::to_string(cores) + " cores)";
      return false;
    }
  }
  threads = n;
  return true;
}

// The environment variables read deep inside the libraries, checked once here so that junk is a
// usage error instead of being silently ignored (SIGMAFLOW_THREADS is checked by set_threads,
// the torchrun variables by the process group).
bool check_environment(std::string& error) {
  auto digits = [](const std::string& t, size_t max_len) {
    return !t.empty() && t.size() <= max_len && t.find_first_not_of("0123456789") == std::string::npos;
  };
  if (const char* env = std::getenv("SIGMAFLOW_MEMORY_LIMIT"); env && *env) {
    const std::string t = env;
    // bytes; at least 1 MiB, at most 2^60 (19 digits fit in uint64)
    if (!digits(t, 19) || std::stoull(t) < (uint64_t{1} << 20) || std::stoull(t) > (uint64_t{1} << 60)) {
      error = "SIGMAFLOW_MEMORY_LIMIT='" + printable(t, 40) +
              "': expected a number of bytes from 1048576 (1 MiB) to 2^60, e.g. 4294967296 for 4 GiB";
      return false;
    }
  }
  if (const char* env = std::getenv("SIGMAFLOW_PLUGIN_TIMEOUT"); env && *env) {
    const std::string t = env;
    if (!digits(t, 3) || std::stoi(t) < 1 || std::stoi(t) > 600) {
      error = "SIGMAFLOW_PLUGIN_TIMEOUT='" + printable(t, 40) + "': expected a number of seconds from 1 to 600";
      return false;
    }
  }
  return true;
}

}  // namespace

ParsedCli parse_cli(int argc, char** argv) {
  CLI::App app{"sigmaflow: run node-based diffusion sampling graphs (ComfyUI API prompt format)", "sigmaflow"};
  app.require_subcommand(0, 1);
  bool show_version = false;
  app.add_flag("--version", show_version, "Print versions (sigmaflow, plugin API, LibTorch, CUDA) and plugin folders");
  ParsedCli parsed;
  CliOptions& o = parsed.options;
  auto* run = app.add_subcommand("run", "Validate a graph file and run what its output nodes need");
  run->add_option("graph", o.graph_path, "Graph file (ComfyUI API prompt JSON)")->required();
  run->add_option("--out", o.out_dir, "Folder for output files (created at the first write)")->capture_default_str();
  run->add_option("--device", o.device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  run->add_option("--plugins", o.plugin_dirs, "Extra plugin folder (repeatable), searched first");
  run->add_flag("--json", o.as_json, "Machine-readable result on stdout (progress on stderr)");
  run->add_flag("--overwrite", o.overwrite, "Write fixed file names (no _NNNNN_ counters), replacing earlier results");
  run->add_flag("--verbose", o.verbose, "More detail in error messages");
  auto* val = app.add_subcommand("validate",
                                 "Check a graph file without running it (no LibTorch; a plugin is loaded only for a "
                                 "node that checks its inputs with its own code)");
  val->add_option("graph", o.graph_path, "Graph file")->required();
  val->add_option("--plugins", o.plugin_dirs, "Extra plugin folder (repeatable)");
  val->add_flag("--json", o.as_json, "Problems as ComfyUI node_errors JSON");
  auto* nodes = app.add_subcommand("nodes", "List the node catalogue (no LibTorch, no plugin loaded)");
  nodes->add_option("--plugins", o.plugin_dirs, "Extra plugin folder (repeatable)");
  nodes->add_flag("--json", o.as_json, "ComfyUI object_info-shaped JSON");
  auto* plugin = app.add_subcommand("plugin", "Plugin tools");
  plugin->require_subcommand(1);
  auto* check = plugin->add_subcommand("check",
                                       "Check a plugin in a child process: build record, contracts, name "
                                       "clashes with the stock catalogue, port types, self-tests");
  check->add_option("file", o.plugin_file, "Plugin shared library (.so)")->required()->check(CLI::ExistingFile);
  check->add_option("--plugins", o.plugin_dirs, "Other plugin folders to compare against (besides the stock one)");
  auto* serve = app.add_subcommand("serve", "Serve ComfyUI's HTTP and websocket API (docs/server.md)");
  serve->add_option("--listen", o.listen, "Address to bind (127.0.0.1: this machine only)")->capture_default_str();
  serve->add_option("--port", o.port, "TCP port (0: any free one)")->capture_default_str()->check(CLI::Range(0, 65535));
  serve->add_option("--out", o.out_dir, "Folder for output files")->capture_default_str();
  serve->add_option("--max-queue", o.max_queue, "Pending prompts accepted before 503")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  serve->add_option("--max-body-mb", o.max_body_mb, "Largest request body, MB")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  serve->add_option("--idle-timeout", o.idle_timeout_s, "Seconds an HTTP connection may stay idle or send its headers")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  serve->add_option("--max-connections", o.max_connections, "Open connections (HTTP and websocket) accepted")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  serve
      ->add_option("--max-queue-mb", o.max_queue_mb, "Memory budget of the pending prompts' requests, MB (503 past it)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  serve->add_option("--input-dir", o.input_dir,
                    "Folder that served graphs' file inputs (LoadSigmas, LoadLatent, ...) and uploads resolve in "
                    "(default: 'input' beside --out)");
  serve->add_option("--models-dir", o.models_dir,
                    "Second folder file inputs may name, for models and data sets (default: 'models' beside --out)");
  serve->add_option("--allow-host", o.allowed_hosts,
                    "Host name clients may use besides IP addresses and localhost (repeatable; DNS-rebinding defence)");
  serve->add_option("--device", o.device, "Default device of served graphs: auto, cpu, cuda or cuda:N")
      ->capture_default_str();
  serve->add_option("--enable-cors-header", o.cors_origin, "Send Access-Control-Allow-Origin: ORIGIN (off by default)");
  serve->add_option("--plugins", o.plugin_dirs, "Extra plugin folder (repeatable), searched first");
  // The server's executor process (docs/server.md): started by `serve`, not by users.
  auto* worker = app.add_subcommand("serve-worker", "The executor process of `serve` (started by it)");
  worker->group("");
  worker->add_option("--out", o.out_dir);
  worker->add_option("--input-dir", o.input_dir);
  worker->add_option("--models-dir", o.models_dir);
  worker->add_option("--device", o.device);
  worker->add_option("--plugins", o.plugin_dirs);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    parsed.exit_code = rc == 0 ? kExitOk : kExitUsage;
    return parsed;
  }
  std::string error;
  if (!thread_count(parsed.threads, error) || !check_environment(error)) {
    fmt::print(stderr, "error: {}\n", error);
    parsed.exit_code = kExitUsage;
    return parsed;
  }
  parsed.command = show_version ? Command::kVersion
                   : *run       ? Command::kRun
                   : *val       ? Command::kValidate
                   : *nodes     ? Command::kNodes
                   : *check     ? Command::kPluginCheck
                   : *serve     ? Command::kServe
                   : *worker    ? Command::kServeWorker
                                : Command::kNone;
  if (parsed.command == Command::kNone) {
    fmt::print("{}", app.help());
    parsed.exit_code = kExitUsage;
  }
  return parsed;
}

}  // namespace sf::host
