// Loading plugin code into this process: the helper's scan (sigmaflow-plugin-scanner), `plugin
// check`'s child, and the executor's first use of a node. Needs LibTorch (plugins link it); the
// torch-free front (validate, nodes) reads plugins only through scanner.h's reports and cache.
#pragma once

#include <string>
#include <vector>

#include "plugins/scanner.h"
#include "sigmaflow/node.h"
#include "sigmaflow/status.h"

namespace sf::host {

// What a plugin registers, collected by a Registrar (in the helper, or in-process).
struct Registered {
  std::vector<NodeDef> nodes;
  std::vector<ScheduleDef> schedules;
  std::vector<SamplerDef> samplers;
};
// Fills the contract part of `record` from live registrations.
void describe(const Registered& reg, ScanRecord& record);

// Loads `path` in this process and runs its init: the build gate first (from the ELF record when
// present, else from the entry symbol), then init into `out`. `handle` receives the library
// handle (never unloaded). Errors name what failed. Threading: loads are serialised.
Status load_plugin(const std::string& path, Registered& out, sf_build_record& record, void** handle);

// In a child process about to load untrusted plugin code: restore the default actions of the
// fatal signals, so a crash ends the child by that signal (a sanitizer's or debugger's handler
// would otherwise turn it into an ordinary exit) and the parent can name it.
void reset_fatal_signal_handlers();

// The helper's body: loads each plugin in order, writes its scan report and a completion
// handshake to out_fd, and exits (with the fatal signals at their default actions, so a crash is
// seen as one).
[[noreturn]] void scan_and_exit(const std::vector<std::string>& paths, int out_fd);

}  // namespace sf::host
