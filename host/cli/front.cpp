#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "cli/app.h"
#include "cli/cli_spec.h"
#include "cli/front_commands.h"
#include "exec/allocator.h"

namespace sf::host {

std::string executor_path() {
  if (const char* env = std::getenv("SIGMAFLOW_EXECUTOR"); env && *env) return env;
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (self.parent_path().parent_path() / "libexec" / "sigmaflow" / "sigmaflow-exec").string();
}

namespace {

// Replaces this process with the executor, same arguments (so the pid, signals, exit status and
// standard streams are the executor's). Returns only when the exec fails.
int exec_executor(char** argv) {
  const std::string path = executor_path();
  ::execv(path.c_str(), argv);
  fmt::print(stderr,
             "error: cannot start sigmaflow's executor '{}': {} (it is installed with sigmaflow; "
             "SIGMAFLOW_EXECUTOR may name it)\n",
             path, std::strerror(errno));
  return kExitFailure;
}

}  // namespace

int run_front(int argc, char** argv) {
  const ParsedCli parsed = parse_cli(argc, argv);
  if (parsed.exit_code >= 0) return parsed.exit_code;
  const CliOptions& o = parsed.options;
  // A graph of 10^6 nodes is millions of small allocations: with glibc's default trimming the
  // front took 19.6 s to validate one, with freed memory kept 10 s (bench_graph_scale).
  keep_freed_memory_for_reuse();
  try {
    if (parsed.command == Command::kNodes) return cmd_nodes(o);
    if (parsed.command == Command::kValidate) {
      PluginIndex index;
      const int rc = cmd_validate(o, index, nullptr);
      if (rc != kNeedsNodeCode) return rc;
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return kExitRuntime;
  }
  return exec_executor(argv);
}

}  // namespace sf::host
