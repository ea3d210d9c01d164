#include "plugins/plugin_loader.h"

#define BOOST_DLL_USE_STD_FS
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <boost/dll/shared_library.hpp>
#include <mutex>

#include "plugins/build_gate.h"

namespace sf::host {

namespace {

class CollectingRegistrar : public Registrar {
 public:
  explicit CollectingRegistrar(Registered& r) : r_(r) {}
  void add_node(NodeDef def) override { r_.nodes.push_back(std::move(def)); }
  void add_schedule(ScheduleDef def) override { r_.schedules.push_back(std::move(def)); }
  void add_sampler(SamplerDef def) override { r_.samplers.push_back(std::move(def)); }

 private:
  Registered& r_;
};

// Every library this process loaded; plugins are never unloaded (torch registrations and tensor
// deleters point into them).
std::vector<boost::dll::shared_library>& loaded_libraries() {
  static auto* libs = new std::vector<boost::dll::shared_library>();
  return *libs;
}
std::mutex g_load_mutex;

}  // namespace

void reset_fatal_signal_handlers() {
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) ::signal(sig, SIG_DFL);
}

void describe(const Registered& reg, ScanRecord& record) {
  for (const auto& n : reg.nodes) record.nodes.push_back(n.contract);
  for (const auto& s : reg.schedules) {
    RegistryName n;
    n.name = s.name;
    n.description = s.description;
    n.overrides = s.overrides;
    n.sampler_aware = s.sampler_aware;
    n.fixed_length = s.fixed_length;
    record.schedules.push_back(n);
  }
  for (const auto& s : reg.samplers) {
    RegistryName n;
    n.name = s.name;
    n.description = s.description;
    n.overrides = s.overrides;
    n.traits = s.traits;
    record.samplers.push_back(n);
  }
}

Status load_plugin(const std::string& path, Registered& out, sf_build_record& record, void** handle) {
  std::lock_guard<std::mutex> lock(g_load_mutex);
  auto elf = read_build_record(path);
  if (!elf.ok()) return FailedPrecondition("not a loadable plugin: " + elf.status().message());
  if (elf->has_value()) {
    record = **elf;
    Status gate = check_build_record(record, host_build_record());
    if (!gate.ok()) return gate;
  }
  boost::dll::shared_library lib;
  std::error_code ec;
  lib.load(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, ec);
  if (ec) {
    const char* err = dlerror();
    return FailedPrecondition("cannot load: " + (err ? std::string(err) : ec.message()));
  }
  if (!lib.has(SIGMAFLOW_PLUGIN_ENTRY_SYMBOL))
    return FailedPrecondition(std::string("missing the entry symbol '") + SIGMAFLOW_PLUGIN_ENTRY_SYMBOL +
                              "': not a sigmaflow plugin (use SIGMAFLOW_PLUGIN)");
  const auto& entry = lib.get<const sf_plugin_entry>(SIGMAFLOW_PLUGIN_ENTRY_SYMBOL);
  if (!elf->has_value()) {
    record = entry.record;
    Status gate = check_build_record(record, host_build_record());
    if (!gate.ok()) return gate;
  }
  CollectingRegistrar reg(out);
  char err[1024] = {0};
  if (entry.init(&reg, err, sizeof err) != 0)
    return FailedPrecondition(std::string("init failed: ") + (err[0] ? err : "no message"));
  if (handle) *handle = reinterpret_cast<void*>(lib.native());
  loaded_libraries().push_back(std::move(lib));
  return Status::Ok();
}

// The helper's work: for each plugin in order, load, describe, write the description and the
// handshake; then exit.
[[noreturn]] void scan_and_exit(const std::vector<std::string>& paths, int out_fd) {
  reset_fatal_signal_handlers();
  auto write_all = [out_fd](const std::string& text) {
    for (size_t off = 0; off < text.size();) {
      ssize_t n = ::write(out_fd, text.data() + off, text.size() - off);
      if (n <= 0) _exit(3);
      off += static_cast<size_t>(n);
    }
  };
  write_all(kScanStartedMark);
  int devnull = ::open("/dev/null", O_WRONLY);
  if (devnull >= 0) {
    dup2(devnull, 1);
    dup2(devnull, 2);
  }
  for (const auto& path : paths) {
    ScanRecord rec;
    rec.path = path;
    Registered reg;
    void* handle = nullptr;
    Status st = load_plugin(path, reg, rec.record, &handle);
    rec.has_record = rec.record.api_major != 0;
    rec.ok = st.ok();
    rec.message = st.message();
    if (st.ok()) describe(reg, rec);
    write_all(scan_report_text(rec) + kScanCompleteMark);
  }
  _exit(0);
}

}  // namespace sf::host
