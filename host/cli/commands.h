// The executor's subcommands (cli/app.cpp parses and dispatches; `validate` and `nodes` are in
// front_commands.h, shared with the torch-free front).
#pragma once

#include <string>

#include "cli/cli_spec.h"
#include "cli/front_commands.h"
#include "plugins/plugin_host.h"

namespace sf::host {

// The nodes' own literal checks, run with their plugins loaded into this process.
LiteralChecks literal_checks(const PluginHost& host);

int cmd_run(const CliOptions& o);
int cmd_plugin_check(const CliOptions& o);
int cmd_version(const CliOptions& o);
int cmd_serve(const CliOptions& o);
int cmd_serve_worker(const CliOptions& o);

std::string versions_line();

}  // namespace sf::host
