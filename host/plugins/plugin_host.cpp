#include "plugins/plugin_host.h"

#define BOOST_DLL_USE_STD_FS
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <torch/version.h>
#include <unistd.h>

#include <algorithm>
#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "sigmaflow/files.h"

#ifndef SIGMAFLOW_TORCH_CUDA
#define SIGMAFLOW_TORCH_CUDA 0
#endif

namespace sf::host {

namespace fs = std::filesystem;

const sf_build_record& host_build_record() {
  static const sf_build_record record = {sizeof(sf_build_record),
                                         SIGMAFLOW_PLUGIN_API_MAJOR,
                                         SIGMAFLOW_PLUGIN_API_MINOR,
                                         _GLIBCXX_USE_CXX11_ABI,
                                         SIGMAFLOW_TORCH_CUDA,
                                         TORCH_VERSION,
#ifdef __clang__
                                         "clang " __clang_version__,
#else
                                         "gcc " __VERSION__,
#endif
                                         "sigmaflow",
                                         ""};
  return record;
}

namespace {
std::string bounded(const char* s, size_t n) { return std::string(s, strnlen(s, n)); }
}  // namespace

Status check_build_record(const sf_build_record& p, const sf_build_record& h) {
  if (p.record_size < sizeof(sf_build_record) && p.api_major == h.api_major)
    return {Code::kFailedPrecondition, "build record is " + std::to_string(p.record_size) + " bytes, host expects " +
                                           std::to_string(sizeof(sf_build_record))};
  if (p.api_major != h.api_major)
    return {Code::kFailedPrecondition, "plugin API major version " + std::to_string(p.api_major) +
                                           " does not match the host's " + std::to_string(h.api_major)};
  if (p.api_minor > h.api_minor)
    return {Code::kFailedPrecondition, "plugin API " + std::to_string(p.api_major) + "." + std::to_string(p.api_minor) +
                                           " is newer than the host's " + std::to_string(h.api_major) + "." +
                                           std::to_string(h.api_minor)};
  std::string pt = bounded(p.torch_version, sizeof p.torch_version), ht = bounded(h.torch_version, sizeof h.torch_version);
  if (pt != ht)
    return {Code::kFailedPrecondition, "plugin was built against LibTorch " + pt + ", the host runs LibTorch " + ht};
  if (p.torch_cuda != h.torch_cuda)
    return {Code::kFailedPrecondition, std::string("plugin was built against a ") + (p.torch_cuda ? "CUDA" : "CPU") +
                                           " LibTorch, the host runs a " + (h.torch_cuda ? "CUDA" : "CPU") + " LibTorch"};
  if (p.cxx11_abi != h.cxx11_abi)
    return {Code::kFailedPrecondition, "plugin _GLIBCXX_USE_CXX11_ABI=" + std::to_string(p.cxx11_abi) +
                                           ", the host's is " + std::to_string(h.cxx11_abi)};
  return Status::Ok();
}

std::vector<std::string> check_contract(const NodeContract& c) {
  std::vector<std::string> out;
  static const std::regex type_re(R"(\*|[A-Z][A-Z0-9_]*(,[A-Z][A-Z0-9_]*)*)");
  if (c.class_type.empty()) out.push_back("class_type is empty");
  std::set<std::string> names;
  for (const auto& in : c.inputs) {
    std::string where = "input '" + in.name + "'";
    if (in.name.empty()) out.push_back("an input has an empty name");
    if (!names.insert(in.name).second) out.push_back("duplicate input name '" + in.name + "'");
    if (!std::regex_match(in.type, type_re))
      out.push_back(where + " has an invalid type string '" + in.type +
                    "' (types are upper-case names such as FLOAT or MODEL, unions A,B, or *)");
    if (in.min && in.max && *in.min > *in.max) out.push_back(where + " has min > max");
    if (in.default_value && in.default_value->is_number()) {
      double d = in.default_value->as_number();
      if ((in.min && d < *in.min) || (in.max && d > *in.max))
        out.push_back(where + " default " + in.default_value->to_json() + " is outside [min, max]");
    }
    if (in.type == "COMBO" && in.choices_from.empty()) {
      if (in.choices.empty()) out.push_back(where + " is a COMBO without choices");
      if (in.default_value && (!in.default_value->is_string() ||
                               std::find(in.choices.begin(), in.choices.end(), in.default_value->as_string()) ==
                                   in.choices.end()))
        out.push_back(where + " default " + in.default_value->to_json() + " is not one of its choices");
    }
    if (!in.choices_from.empty() && in.choices_from != "schedulers" && in.choices_from != "samplers")
      out.push_back(where + " has unknown choices_from '" + in.choices_from + "'");
  }
  for (size_t i = 0; i < c.outputs.size(); ++i)
    if (!std::regex_match(c.outputs[i].type, type_re))
      out.push_back("output " + std::to_string(i) + " has an invalid type string '" + c.outputs[i].type + "'");
  return out;
}

struct PluginHost::Libraries {
  std::vector<boost::dll::shared_library> libs;  // never unloaded
};

// Collects what one plugin registers; committed to the host only if init succeeds.
class PluginHost::CollectingRegistrar : public Registrar {
 public:
  void add_node(NodeDef def) override { nodes.push_back(std::move(def)); }
  void add_schedule(ScheduleDef def) override { schedules.push_back(std::move(def)); }
  void add_sampler(SamplerDef def) override { samplers.push_back(std::move(def)); }
  std::vector<NodeDef> nodes;
  std::vector<ScheduleDef> schedules;
  std::vector<SamplerDef> samplers;
};

PluginHost::PluginHost() : libs_(std::make_unique<Libraries>()) {}

PluginHost::~PluginHost() {
  // Intentionally leak the library handles: plugins are never unloaded (objects and tensor
  // deleters created by them may outlive the host object).
  new Libraries(std::move(*libs_));
}

const NodeDef* PluginHost::node(const std::string& class_type) const {
  auto it = nodes_.find(class_type);
  return it == nodes_.end() ? nullptr : &it->second;
}
const ScheduleDef* PluginHost::schedule(const std::string& name) const {
  auto it = schedules_.find(name);
  return it == schedules_.end() ? nullptr : &it->second;
}
const SamplerDef* PluginHost::sampler(const std::string& name) const {
  auto it = samplers_.find(name);
  return it == samplers_.end() ? nullptr : &it->second;
}

namespace {

// Loads the library and reads its entry. Errors name the plugin file.
Status open_plugin(const std::string& path, boost::dll::shared_library& lib, const sf_plugin_entry*& entry) {
  std::error_code ec;
  lib.load(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, ec);
  if (ec) {
    const char* err = dlerror();
    return {Code::kFailedPrecondition, "cannot load: " + (err ? std::string(err) : ec.message())};
  }
  if (!lib.has(SIGMAFLOW_PLUGIN_ENTRY_SYMBOL))
    return {Code::kFailedPrecondition, std::string("missing the entry symbol '") + SIGMAFLOW_PLUGIN_ENTRY_SYMBOL +
                                           "': not a sigmaflow plugin (use SIGMAFLOW_PLUGIN)"};
  entry = &lib.get<const sf_plugin_entry>(SIGMAFLOW_PLUGIN_ENTRY_SYMBOL);
  return Status::Ok();
}

}  // namespace

void reset_fatal_signal_handlers() {
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) ::signal(sig, SIG_DFL);
}

namespace {

struct TrialVerdict {
  bool crashed = false;
  std::string message;
};

// Loads the plugin and runs its init in a child process; reports a crash or a hang.
TrialVerdict trial_load(const std::string& path) {
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) return {};  // cannot isolate; load in-process
  if (pid == 0) {
    // Child: silence output, load, init, exit. Never returns.
    reset_fatal_signal_handlers();
    int devnull = ::open("/dev/null", O_WRONLY);
    if (devnull >= 0) {
      dup2(devnull, 1);
      dup2(devnull, 2);
    }
    boost::dll::shared_library lib;
    const sf_plugin_entry* entry = nullptr;
    if (!open_plugin(path, lib, entry).ok()) _exit(0);
    if (!check_build_record(entry->record, host_build_record()).ok()) _exit(0);
    struct NullRegistrar : Registrar {
      void add_node(NodeDef) override {}
      void add_schedule(ScheduleDef) override {}
      void add_sampler(SamplerDef) override {}
    } reg;
    char err[512] = {0};
    entry->init(&reg, err, sizeof err);
    _exit(0);
  }
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (true) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0) return {};
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return {true, "hung for 20 s while loading (killed)"};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (WIFSIGNALED(status))
    return {true, std::string("crashed while loading (signal ") + std::to_string(WTERMSIG(status)) + ", " +
                      strsignal(WTERMSIG(status)) + ")"};
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
    return {true, "exited with status " + std::to_string(WEXITSTATUS(status)) + " while loading"};
  return {};
}

// Which host produced a verdict: a verdict depends on the host as well as on the plugin file (a
// rebuilt host may load a plugin differently), so verdicts of another host build are dropped.
std::string host_stamp() {
  const sf_build_record& r = host_build_record();
  return std::to_string(r.api_major) + "." + std::to_string(r.api_minor) + "|" + r.torch_version + "|" + r.compiler +
         "|" __DATE__ " " __TIME__;
}

// Scan verdict cache: {"host": stamp, "plugins": {path: {size, mtime, crashed, message}}}.
class ScanCache {
 public:
  explicit ScanCache(std::string dir) : file_(dir.empty() ? std::string() : dir + "/plugin-scan-v1.json") {
    if (file_.empty()) return;
    std::ifstream f(file_);
    if (!f) return;
    auto j = nlohmann::json::parse(f, nullptr, false);
    // Corrupted, old-format or another host's file: start empty.
    if (j.is_object() && j.value("host", std::string()) == host_stamp() && j.contains("plugins") && j["plugins"].is_object())
      data_ = j["plugins"];
  }
  bool lookup(const std::string& path, TrialVerdict& v) const {
    if (file_.empty() || !data_.contains(path)) return false;
    const auto& e = data_[path];
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) return false;
    if (!e.is_object() || e.value("size", -1LL) != static_cast<long long>(st.st_size) ||
        e.value("mtime_ns", -1LL) != static_cast<long long>(st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec))
      return false;
    v.crashed = e.value("crashed", false);
    v.message = e.value("message", std::string());
    return true;
  }
  void store(const std::string& path, const TrialVerdict& v) {
    if (file_.empty()) return;
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) return;
    data_[path] = {{"size", static_cast<long long>(st.st_size)},
                   {"mtime_ns", static_cast<long long>(st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec)},
                   {"crashed", v.crashed},
                   {"message", v.message}};
    dirty_ = true;
  }
  void save() {
    if (!dirty_ || file_.empty()) return;
    nlohmann::json j = {{"host", host_stamp()}, {"plugins", data_}};
    (void)write_file_atomic(file_, j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace));  // best effort
  }

 private:
  std::string file_;
  nlohmann::json data_ = nlohmann::json::object();
  bool dirty_ = false;
};

}  // namespace

Status PluginHost::load(const std::string& path, bool isolate, const std::string& cache_dir) {
  ScanCache cache(cache_dir);
  if (isolate) {
    TrialVerdict v;
    if (!cache.lookup(path, v)) {
      v = trial_load(path);
      cache.store(path, v);
      cache.save();
    }
    if (v.crashed) return {Code::kFailedPrecondition, v.message};
  }
  boost::dll::shared_library lib;
  const sf_plugin_entry* entry = nullptr;
  Status st = open_plugin(path, lib, entry);
  if (!st.ok()) return st;
  st = check_build_record(entry->record, host_build_record());
  if (!st.ok()) return st;
  CollectingRegistrar reg;
  char err[1024] = {0};
  if (entry->init(&reg, err, sizeof err) != 0)
    return {Code::kFailedPrecondition, std::string("init failed: ") + (err[0] ? err : "no message")};

  PluginInfo info;
  info.path = path;
  info.record = entry->record;
  info.name = bounded(entry->record.plugin_name, sizeof entry->record.plugin_name);
  info.version = bounded(entry->record.plugin_version, sizeof entry->record.plugin_version);
  std::vector<std::string> refused;
  for (auto& def : reg.nodes) {
    const std::string ct = def.contract.class_type;
    auto contract_problems = check_contract(def.contract);
    if (!contract_problems.empty()) {
      std::string msg;
      for (const auto& p : contract_problems) msg += (msg.empty() ? "" : "; ") + p;
      problems_.push_back({path, "node '" + ct + "' refused: invalid contract: " + msg});
      continue;
    }
    if (const auto* existing = catalogue_.find(ct)) {
      problems_.push_back({path, "class_type '" + ct + "' is defined by both " + existing->plugin_path + " and " + path +
                                     "; keeping the one from " + existing->plugin_path});
      continue;
    }
    catalogue_.add(def.contract, info.name, path);
    info.class_types.push_back(ct);
    nodes_.emplace(ct, std::move(def));
  }
  for (auto& s : reg.schedules) {
    if (schedules_.count(s.name)) {
      problems_.push_back({path, "schedule name '" + s.name + "' is already registered; keeping the first"});
      continue;
    }
    catalogue_.add_schedule_name(s.name);
    schedules_.emplace(s.name, std::move(s));
  }
  for (auto& s : reg.samplers) {
    if (samplers_.count(s.name)) {
      problems_.push_back({path, "sampler name '" + s.name + "' is already registered; keeping the first"});
      continue;
    }
    catalogue_.add_sampler_name(s.name);
    samplers_.emplace(s.name, std::move(s));
  }
  catalogue_.expand_registry_choices();
  plugins_.push_back(std::move(info));
  libs_->libs.push_back(std::move(lib));
  return Status::Ok();
}

void PluginHost::scan(const ScanOptions& options) {
  std::set<std::string> seen;
  for (const auto& dir : options.dirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    dirs_.push_back(dir);
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.path().extension() == ".so") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::string canon = fs::weakly_canonical(f, ec).string();
      if (!seen.insert(canon).second) continue;
      Status st = load(canon, options.isolate, options.cache_dir);
      if (!st.ok()) problems_.push_back({canon, st.message()});
    }
  }
}

std::vector<std::string> default_plugin_dirs(const std::vector<std::string>& cli_dirs) {
  std::vector<std::string> dirs = cli_dirs;
  if (const char* env = std::getenv("SIGMAFLOW_PLUGIN_PATH")) {
    std::stringstream ss(env);
    std::string d;
    while (std::getline(ss, d, ':'))
      if (!d.empty()) dirs.push_back(d);
  }
  std::error_code ec;
  auto exe = boost::dll::program_location(ec);
  if (!ec) dirs.push_back((exe.parent_path().parent_path() / "lib" / "sigmaflow" / "plugins").string());
  return dirs;
}

std::string default_cache_dir() { return user_cache_dir(); }

}  // namespace sf::host
