// The sigmaflow command line. Exit codes are part of the interface (see ExitCode).
//
// Two executables share it (cli/cli_spec.h parses for both): the front, bin/sigmaflow, which
// links no LibTorch and runs `validate` and `nodes` itself; and the executor,
// libexec/sigmaflow/sigmaflow-exec, which the front execs (same process, same arguments) for
// everything else, and for a `validate` whose nodes check their literals with their own code.
#pragma once

#include <string>

namespace sf::host {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,        // a check command found problems (plugin check)
  kExitUsage = 2,          // bad command line, unknown device
  kExitValidation = 3,     // the graph is malformed or failed validation
  kExitRuntime = 4,        // a node failed while running (or crashed: a fatal signal inside a node)
  kExitInterrupted = 130,  // SIGINT / SIGTERM during a run
};

// The executor's command line (libexec/sigmaflow/sigmaflow-exec).
int run_cli(int argc, char** argv);

// The front's command line (bin/sigmaflow): torch-free; execs the executor (executor_path())
// for the commands it cannot finish.
int run_front(int argc, char** argv);

// $SIGMAFLOW_EXECUTOR, else <prefix>/libexec/sigmaflow/sigmaflow-exec beside this binary's
// <prefix>/bin.
std::string executor_path();

}  // namespace sf::host
