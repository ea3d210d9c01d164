#include "cli/app.h"

#include <fmt/format.h>

#include "cli/cli_spec.h"
#include "cli/commands.h"
#include "exec/allocator.h"
#include "exec/threads.h"

namespace sf::host {

int run_cli(int argc, char** argv) {
  const ParsedCli parsed = parse_cli(argc, argv);
  if (parsed.exit_code >= 0) return parsed.exit_code;
  keep_freed_memory_for_reuse();
  configure_threads(parsed.threads);
  const CliOptions& o = parsed.options;
  try {
    switch (parsed.command) {
      case Command::kVersion:
        return cmd_version(o);
      case Command::kRun:
        return cmd_run(o);
      case Command::kValidate: {
        PluginHost host;
        return cmd_validate(o, host, literal_checks(host));
      }
      case Command::kNodes:
        return cmd_nodes(o);
      case Command::kPluginCheck:
        return cmd_plugin_check(o);
      case Command::kServe:
        return cmd_serve(o);
      case Command::kServeWorker:
        return cmd_serve_worker(o);
      case Command::kNone:
        break;
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return kExitRuntime;
  }
  return kExitUsage;
}

}  // namespace sf::host
