// Plugin scanning, GStreamer-style (torch-free: the front's `validate` and `nodes` use it): a plugin is loaded once in
// a helper process (sigmaflow-plugin-scanner, exec'd: a fresh process image, never a fork of a process that has
// LibTorch loaded or CUDA touched), which reports everything it registers (contracts, schedule and
// sampler names) back through a pipe; the verdict and the contracts are cached by path, size,
// mtime and host build. So `validate` and `nodes` load no plugin, a crashing, hanging or exiting
// plugin is reported and skipped, and the helper only runs for new or changed files.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "registry/catalogue.h"
#include "sigmaflow/build_record.h"
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

// One scan report as the helper writes it (JSON), read field by field: anything else (the helper
// runs plugin code, so its output is untrusted) gives ok = false and a message saying why.
ScanRecord parse_scan_report(const std::string& text, const std::string& path);
// The report the helper writes for `record` (parse_scan_report reads it back).
std::string scan_report_text(const ScanRecord& record);
// The helper's protocol on its report pipe: the start mark once its own start-up is done, then
// each plugin's report followed by the completion mark.
inline constexpr const char* kScanStartedMark = "SF-SCAN-STARTED\n";
inline constexpr const char* kScanCompleteMark = "\nSF-SCAN-COMPLETE\n";

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
