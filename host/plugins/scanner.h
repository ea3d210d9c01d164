// Plugin scanning, GStreamer-style: a plugin is loaded once in a helper process
// (sigmaflow-plugin-scanner, exec'd: a fresh process image, never a fork of a process that has
// LibTorch loaded or CUDA touched), which reports everything it registers (contracts, schedule and
// sampler names) back through a pipe; the verdict and the contracts are cached by path, size,
// mtime and host build. So `validate` and `nodes` load no plugin, a crashing, hanging or exiting
// plugin is reported and skipped, and the helper only runs for new or changed files.
#pragma once

#include <string>
#include <vector>

#include "registry/catalogue.h"
#include "sigmaflow/build_record.h"
#include "sigmaflow/node.h"
#include "sigmaflow/status.h"

namespace sf::host {

// What scanning one plugin file found.
struct ScanRecord {
  std::string path;
  bool ok = false;
  std::string message;  // why it was refused
  bool has_record = false;
  sf_build_record record{};
  std::vector<NodeContract> nodes;
  std::vector<RegistryName> schedules, samplers;
};

// Scans `path` in the helper process (at most `timeout_seconds`). Never throws; a crash, hang,
// exit without the completion handshake, refusal, or a helper that does not start becomes
// ok = false with the reason.
ScanRecord scan_in_child(const std::string& path, int timeout_seconds = 20);

// The helper: $SIGMAFLOW_PLUGIN_SCANNER, else <prefix>/libexec/sigmaflow/sigmaflow-plugin-scanner
// of the prefix holding the binary with the host code (<prefix>/bin/sigmaflow, or the SDK's test
// library in <prefix>/lib or <prefix>/lib/<triplet>).
std::string scanner_helper_path();

// Scans several plugins in as few helper processes as possible (one, unless a plugin crashes,
// hangs or exits while loading: that one is refused and a new helper goes on with the rest).
// One record per path, in order.
std::vector<ScanRecord> scan_in_helper(const std::vector<std::string>& paths, int timeout_seconds = 20);

// The helper's body: loads each plugin in order, writes its scan report and a completion
// handshake to out_fd, and exits (with the fatal signals at their default actions, so a crash is
// seen as one).
[[noreturn]] void scan_and_exit(const std::vector<std::string>& paths, int out_fd);

// What a plugin registers, collected by a Registrar (in the child, or in-process).
struct Registered {
  std::vector<NodeDef> nodes;
  std::vector<ScheduleDef> schedules;
  std::vector<SamplerDef> samplers;
};
// Fills the contract part of `record` from live registrations.
void describe(const Registered& reg, ScanRecord& record);

// Loads `path` in this process and runs its init: the build gate first (from the ELF record when
// present, else from the entry symbol), then init into `out`. `handle` receives the library
// handle (never unloaded). Errors name what failed.
Status load_plugin(const std::string& path, Registered& out, sf_build_record& record, void** handle);

// In a child process about to load untrusted plugin code: restore the default actions of the
// fatal signals, so a crash ends the child by that signal (a sanitizer's or debugger's handler
// would otherwise turn it into an ordinary exit) and the parent can name it.
void reset_fatal_signal_handlers();

// One scan report as the helper writes it (JSON), read field by field: anything else (the helper
// runs plugin code, so its output is untrusted) gives ok = false and a message saying why.
ScanRecord parse_scan_report(const std::string& text, const std::string& path);

// What the scan cache stamps its file with (API version, LibTorch, compiler, build time): a file
// of another host build is ignored.
std::string scan_cache_host_stamp();

// The scan verdict cache: <dir>/plugin-scan-v2.json, keyed by path, valid for the same file size,
// mtime and host build. A corrupt or foreign file is ignored.
class ScanCache {
 public:
  explicit ScanCache(std::string dir);
  bool lookup(const std::string& path, ScanRecord& out) const;
  void store(const ScanRecord& record);
  void save();

 private:
  std::string file_;
  struct Data;
  std::shared_ptr<Data> data_;
  bool dirty_ = false;
};

}  // namespace sf::host
