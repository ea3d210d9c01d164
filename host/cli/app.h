// The sigmaflow command line. Exit codes are part of the interface (see ExitCode).
#pragma once

namespace sf::host {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,        // a check command found problems (plugin check)
  kExitUsage = 2,          // bad command line, unknown device
  kExitValidation = 3,     // the graph is malformed or failed validation
  kExitRuntime = 4,        // a node failed while running (or crashed: a fatal signal inside a node)
  kExitInterrupted = 130,  // SIGINT / SIGTERM during a run
};

int run_cli(int argc, char** argv);

}  // namespace sf::host
