// libFuzzer target for the files sigmaflow reads back from its own caches and metadata, which a
// crashed run, another version or another user may have left in any state. The first byte picks
// the reader; the rest is the file:
//   0  an optimal-steps plan (load_plan: N_max 4, K 8, key "fuzz-key")
//   1  an optimal-steps held-out selection (load_selection, the two candidates of the seeds)
//   2  the optimal-steps automatic settings (load_auto_settings)
//   3  a plugin scanner report (parse_scan_report; the helper runs plugin code, so its output is
//      untrusted), its contracts checked and put in a catalogue as the host does
//   4  the plugin-scan cache (ScanCache, then lookup of this binary): "@HOST@", "@SIZE@" and
//      "@MTIME@" in the bytes become this build's stamp and the binary's size and mtime, so the
//      fuzzer reaches the entries' fields
//   5  a network's metadata (apply_network_metadata, with none and with every setting chosen)
// Each reader must refuse what it cannot use without throwing or crashing, and what it accepts must
// satisfy the contract its callers rely on (checked here: a trap otherwise).
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "plugins/scanner.h"
#include "registry/catalogue.h"
#include "registry/contract_check.h"
#include "registry/contract_json.h"
#include "sigmaflow/diffusion/torchscript_model.h"
#include "sigmaflow/scheduler/optimal_steps/plan_cache.h"

namespace {

const std::string& scratch() {
  static const std::string dir = [] {
    std::string d = "/tmp/sigmaflow-fuzz-caches-" + std::to_string(getpid());
    std::filesystem::create_directories(d + "/optimal_steps");
    return d;
  }();
  return dir;
}

void write(const std::string& file, const std::string& bytes) {
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void plan(const std::string& bytes) {
  const std::string file = scratch() + "/optimal_steps/plan.json";
  write(file, bytes);
  std::string why;
  if (auto p = sf::oss::load_plan(file, "fuzz-key", 4, 8, why)) {
    check(p->schedules.size() == 4 && p->grid.size() == 9 && p->training_error.size() == 4);
    for (size_t n = 0; n < p->schedules.size(); ++n) {
      const auto& s = p->schedules[n];
      if (s.empty()) continue;
      check(s.size() == n + 2 && s.back() == 0.0);
      for (size_t i = 0; i + 1 < s.size(); ++i) check(s[i] > s[i + 1]);
    }
  } else {
    check(!why.empty());
  }
}

void selection(const std::string& bytes) {
  const std::string file = scratch() + "/optimal_steps/selection.json";
  write(file, bytes);
  const std::vector<sf::oss::CandidateSchedule> candidates{{"optimal_steps", {10.0, 1.0, 0.0}},
                                                           {"karras", {10.0, 2.0, 0.0}}};
  std::string why;
  if (auto s = sf::oss::load_selection(file, "fuzz-key", candidates, why)) {
    check(s->scores.size() == candidates.size() && s->chosen < s->scores.size());
  } else {
    check(!why.empty());
  }
}

void auto_settings(const std::string& bytes) {
  const std::string file = scratch() + "/optimal_steps/auto.json";
  write(file, bytes);
  std::string why;
  if (auto a = sf::oss::load_auto_settings(file, "fuzz-key", why))
    check(a->grid_size >= 1 && a->training_noises >= 1 && a->seconds_per_evaluation > 0 &&
          std::isfinite(a->seconds_per_evaluation));
  else
    check(!why.empty());
}

void scan_report(const std::string& bytes) {
  const sf::host::ScanRecord r = sf::host::parse_scan_report(bytes, "/fuzz/plugin.so");
  if (!r.ok) return;
  sf::host::Catalogue catalogue;
  for (const auto& c : r.nodes) {
    if (!sf::host::check_contract(c).empty()) continue;
    (void)sf::host::contract_to_json(c).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    catalogue.put(sf::host::CatalogueEntry{c, "fuzz", "/fuzz/plugin.so", {}});
  }
  for (const auto& n : r.schedules) catalogue.put_schedule(n);
  for (const auto& n : r.samplers) catalogue.put_sampler(n);
  catalogue.expand_registry_choices();
  (void)catalogue.object_info_json();
}

void scan_cache(std::string bytes) {
  static const std::string self = [] {
    char buf[4096];
    const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }();
  struct stat st {};
  if (self.empty() || ::stat(self.c_str(), &st) != 0) return;
  const long long mtime = static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  replace_all(bytes, "@HOST@", sf::host::scan_cache_host_stamp());
  replace_all(bytes, "@SIZE@", std::to_string(static_cast<long long>(st.st_size)));
  replace_all(bytes, "@MTIME@", std::to_string(mtime));
  replace_all(bytes, "@PATH@", self);
  write(scratch() + "/plugin-scan-v2.json", bytes);
  sf::host::ScanCache cache(scratch());
  sf::host::ScanRecord out;
  if (cache.lookup(self, out)) check(out.path == self);
}

void metadata(const std::string& bytes) {
  for (bool chosen : {false, true}) {
    sf::diffusion::TorchScriptSettings s;
    s.path = "fuzz.pt";
    s.given = {chosen, chosen, chosen, chosen, chosen, chosen};
    s.sample_shape = {2};
    sf::diffusion::TorchScriptModel::Notes notes;
    sf::diffusion::apply_network_metadata(bytes, s, notes);
    check(s.sigma_data > 0 && std::isfinite(s.sigma_data) && s.sigma_min > 0 && s.sigma_min < s.sigma_max &&
          std::isfinite(s.sigma_max) && !s.sample_shape.empty());
    for (int64_t d : s.sample_shape) check(d >= 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 6) {
    case 0:
      plan(bytes);
      break;
    case 1:
      selection(bytes);
      break;
    case 2:
      auto_settings(bytes);
      break;
    case 3:
      scan_report(bytes);
      break;
    case 4:
      scan_cache(bytes);
      break;
    default:
      metadata(bytes);
      break;
  }
  return 0;
}
