#include "plugins/scanner.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

#include "plugins/build_gate.h"
#include "registry/contract_json.h"
#include "sigmaflow/files.h"
#include "sigmaflow/json_depth.h"

namespace sf::host {

using json = nlohmann::json;

namespace {

constexpr const char* kStarted = kScanStartedMark;
constexpr const char* kHandshake = kScanCompleteMark;
// The helper's start-up (exec, the dynamic loader mapping LibTorch) is bounded separately and
// generously, so a busy machine does not turn a slow start into a "hung" plugin; the scan
// timeout counts from the moment the helper says it runs.
constexpr int kHelperStartSeconds = 300;
constexpr size_t kMaxScanOutput = size_t{64} << 20;
constexpr int kHelperNotStarted = 127;  // the exit status of a child whose exec failed

// The folder of the binary holding this code: the executable, or libsigmaflow_testing.so for
// the SDK's test harness.
std::string own_binary_dir() {
  Dl_info info{};
  std::string file;
  if (dladdr(reinterpret_cast<void*>(&own_binary_dir), &info) != 0 && info.dli_fname &&
      std::strchr(info.dli_fname, '/') && std::strstr(info.dli_fname, ".so"))
    file = info.dli_fname;
  if (file.empty()) {
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n > 0) file.assign(buf, static_cast<size_t>(n));
  }
  const size_t slash = file.rfind('/');
  return slash == std::string::npos ? std::string(".") : file.substr(0, slash);
}

json record_to_json(const sf_build_record& r) {
  return {{"api_major", r.api_major},
          {"api_minor", r.api_minor},
          {"cxx11_abi", r.cxx11_abi},
          {"torch_cuda", r.torch_cuda},
          {"torch_version", record_string(r.torch_version, sizeof r.torch_version)},
          {"compiler", record_string(r.compiler, sizeof r.compiler)},
          {"plugin_name", record_string(r.plugin_name, sizeof r.plugin_name)},
          {"plugin_version", record_string(r.plugin_version, sizeof r.plugin_version)}};
}

void copy_field(char* dst, size_t n, const std::string& s) {
  std::memset(dst, 0, n);
  std::memcpy(dst, s.data(), std::min(n - 1, s.size()));
}

sf_build_record record_from_json(const json& j) {
  sf_build_record r{};
  std::memcpy(r.magic, SIGMAFLOW_RECORD_MAGIC, 8);
  r.record_size = sizeof r;
  r.api_major = j.value("api_major", 0u);
  r.api_minor = j.value("api_minor", 0u);
  r.cxx11_abi = j.value("cxx11_abi", 0);
  r.torch_cuda = j.value("torch_cuda", 0);
  copy_field(r.torch_version, sizeof r.torch_version, j.value("torch_version", std::string()));
  copy_field(r.compiler, sizeof r.compiler, j.value("compiler", std::string()));
  copy_field(r.plugin_name, sizeof r.plugin_name, j.value("plugin_name", std::string()));
  copy_field(r.plugin_version, sizeof r.plugin_version, j.value("plugin_version", std::string()));
  return r;
}

json scan_to_json(const ScanRecord& r) {
  json nodes = json::array(), schedules = json::array(), samplers = json::array();
  for (const auto& c : r.nodes) nodes.push_back(contract_to_json(c));
  for (const auto& n : r.schedules) schedules.push_back(registry_name_to_json(n));
  for (const auto& n : r.samplers) samplers.push_back(registry_name_to_json(n));
  json j = {{"ok", r.ok}, {"message", r.message}, {"nodes", nodes}, {"schedules", schedules}, {"samplers", samplers}};
  if (r.has_record) j["record"] = record_to_json(r.record);
  return j;
}

void scan_from_json(const json& j, ScanRecord& r) {
  r.ok = j.at("ok").get<bool>();
  r.message = j.value("message", std::string());
  r.has_record = j.contains("record");
  if (r.has_record) r.record = record_from_json(j["record"]);
  for (const auto& c : j.at("nodes")) r.nodes.push_back(contract_from_json(c));
  for (const auto& n : j.at("schedules")) r.schedules.push_back(registry_name_from_json(n));
  for (const auto& n : j.at("samplers")) r.samplers.push_back(registry_name_from_json(n));
}

}  // namespace

std::string scan_report_text(const ScanRecord& record) {
  return scan_to_json(record).dump(-1, ' ', false, json::error_handler_t::replace);
}

ScanRecord parse_scan_report(const std::string& text, const std::string& path) {
  ScanRecord rec;
  rec.path = path;
  const bool too_deep = json_nesting_depth(text) > kMaxJsonFileDepth;
  auto j = too_deep ? json(nullptr) : json::parse(text, nullptr, false);
  try {
    if (too_deep) throw std::runtime_error("nested too deeply");
    if (j.is_discarded()) throw std::runtime_error("unreadable scan output");
    scan_from_json(j, rec);
  } catch (const std::exception& e) {
    rec = ScanRecord{};
    rec.path = path;
    rec.message = std::string("the plugin scanner's report is unreadable: ") + e.what();
  }
  return rec;
}

namespace {

// Reads the helper's reports for `paths` (in order) into `done` until EOF or a stall: the helper
// has kHelperStartSeconds to start, then each plugin `timeout_seconds` from the previous report.
// False on a stall or oversized output.
bool read_reports(int fd, const std::vector<std::string>& paths, int timeout_seconds, std::vector<ScanRecord>& done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kHelperStartSeconds);
  bool started = false;
  std::string out;
  char buf[65536];
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (r < 0 && errno != EINTR) return false;
    if (r <= 0) continue;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > kMaxScanOutput) return false;
    if (!started && out.size() >= std::strlen(kStarted)) {
      started = true;
      out.erase(0, std::strlen(kStarted));
      deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
    }
    for (size_t mark; started && done.size() < paths.size() && (mark = out.find(kHandshake)) != std::string::npos;) {
      done.push_back(parse_scan_report(out.substr(0, mark), paths[done.size()]));
      out.erase(0, mark + std::strlen(kHandshake));
      deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
    }
  }
}

std::string verdict_of(int status, bool handshake, const std::string& helper) {
  if (WIFEXITED(status) && WEXITSTATUS(status) == kHelperNotStarted)
    return "could not be scanned: the plugin scanner helper '" + helper +
           "' did not start (install it with sigmaflow, or name it in SIGMAFLOW_PLUGIN_SCANNER)";
  if (WIFSIGNALED(status))
    return std::string("crashed while loading (signal ") + std::to_string(WTERMSIG(status)) + ", " +
           strsignal(WTERMSIG(status)) + ")";
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
    return "exited with status " + std::to_string(WEXITSTATUS(status)) + " while loading";
  if (!handshake) return "exited with status 0 while loading (before completing the load)";
  return {};
}

}  // namespace

std::string scanner_helper_path() {
  if (const char* env = std::getenv("SIGMAFLOW_PLUGIN_SCANNER"); env && *env) return env;
  const std::string dir = own_binary_dir(), helper = "libexec/sigmaflow/sigmaflow-plugin-scanner";
  // bin/ or lib/ of a prefix, or a multiarch lib/<triplet>/.
  for (const std::string& up : {dir + "/../", dir + "/../../"})
    if (::access((up + helper).c_str(), X_OK) == 0) return up + helper;
  return dir + "/../" + helper;
}

namespace {

// What one helper process did with paths (in order): the reports it completed, and why the next
// plugin has none (empty when all completed).
struct HelperRun {
  std::vector<ScanRecord> done;
  std::string failure;
};

HelperRun run_helper(const std::string& helper, const std::vector<std::string>& paths, int timeout_seconds) {
  HelperRun run;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    run.failure = std::string("cannot start the plugin scanner: ") + std::strerror(errno);
    return run;
  }
  // Everything the child needs is prepared before fork(): between fork and exec it only calls
  // async-signal-safe functions (this process may run other threads and have LibTorch loaded).
  std::vector<std::string> args = {helper, std::to_string(fds[1])};
  args.insert(args.end(), paths.begin(), paths.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    run.failure = std::string("cannot start the plugin scanner: ") + std::strerror(errno);
    return run;
  }
  if (pid == 0) {                 // a fresh process image: the helper (never a fork that runs plugin code)
    ::fcntl(fds[1], F_SETFD, 0);  // the write end survives exec
    ::execv(argv[0], argv.data());
    _exit(kHelperNotStarted);
  }
  ::close(fds[1]);
  bool finished = read_reports(fds[0], paths, timeout_seconds, run.done);
  ::close(fds[0]);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  int status = 0;
  while (finished && waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      finished = false;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!finished) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    if (run.done.size() < paths.size())
      run.failure = "hung for " + std::to_string(timeout_seconds) + " s while loading (killed)";
    return run;
  }
  if (run.done.size() < paths.size()) run.failure = verdict_of(status, false, helper);
  return run;
}

}  // namespace

std::vector<ScanRecord> scan_in_helper(const std::vector<std::string>& paths, int timeout_seconds) {
  const std::string helper = scanner_helper_path();
  std::vector<ScanRecord> records;
  while (records.size() < paths.size()) {
    HelperRun run =
        run_helper(helper, std::vector<std::string>(paths.begin() + records.size(), paths.end()), timeout_seconds);
    for (auto& r : run.done) records.push_back(std::move(r));
    if (records.size() < paths.size()) {  // the helper ended or stalled on this plugin: refuse it, go on
      ScanRecord failed;
      failed.path = paths[records.size()];
      failed.message = run.failure.empty() ? "the plugin scanner ended without a report" : run.failure;
      records.push_back(std::move(failed));
    }
  }
  return records;
}

ScanRecord scan_in_child(const std::string& path, int timeout_seconds) {
  return scan_in_helper({path}, timeout_seconds).front();
}

// Which host produced a verdict: a verdict depends on the host as well as on the plugin file (a
// rebuilt host may load a plugin differently), so verdicts of another host build are dropped.
std::string scan_cache_host_stamp() {
  const sf_build_record& r = host_build_record();
  return std::to_string(r.api_major) + "." + std::to_string(r.api_minor) + "|" + r.torch_version + "|" + r.compiler +
         "|" __DATE__ " " __TIME__;
}

namespace {

bool file_stamp(const std::string& path, long long& size, long long& mtime_ns) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  size = static_cast<long long>(st.st_size);
  mtime_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  return true;
}
}  // namespace

struct ScanCache::Data {
  json plugins = json::object();
};

ScanCache::ScanCache(std::string dir)
    : file_(dir.empty() ? std::string() : dir + "/plugin-scan-v2.json"), data_(std::make_shared<Data>()) {
  if (file_.empty()) return;
  auto text = read_file_bounded(file_, kMaxGraphFileBytes);
  if (!text.ok() || json_nesting_depth(*text) > kMaxJsonFileDepth) return;
  auto j = json::parse(*text, nullptr, false);
  // Corrupted, old-format or another host's file: start empty. (Fields are type-checked: a cache
  // edited by hand or by another program must not break every command.)
  if (j.is_object() && j.contains("host") && j["host"].is_string() &&
      j["host"].get<std::string>() == scan_cache_host_stamp() && j.contains("plugins") && j["plugins"].is_object())
    data_->plugins = j["plugins"];
}

bool ScanCache::lookup(const std::string& path, ScanRecord& out) const {
  if (file_.empty() || !data_->plugins.contains(path)) return false;
  const auto& e = data_->plugins[path];
  long long size = 0, mtime = 0;
  auto stamp = [&](const char* k) { return e.contains(k) && e[k].is_number_integer() ? e[k].get<long long>() : -1LL; };
  // A malformed entry is dropped (the plugin is scanned again and the entry rewritten).
  if (!file_stamp(path, size, mtime) || !e.is_object() || stamp("size") != size || stamp("mtime_ns") != mtime)
    return false;
  try {
    ScanRecord r;
    r.path = path;
    scan_from_json(e.at("scan"), r);
    out = std::move(r);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

void ScanCache::store(const ScanRecord& record) {
  long long size = 0, mtime = 0;
  if (file_.empty() || !file_stamp(record.path, size, mtime)) return;
  data_->plugins[record.path] = {{"size", size}, {"mtime_ns", mtime}, {"scan", scan_to_json(record)}};
  dirty_ = true;
}

void ScanCache::save() {
  if (!dirty_ || file_.empty()) return;
  json j = {{"host", scan_cache_host_stamp()}, {"plugins", data_->plugins}};
  (void)write_file_atomic(file_, j.dump(1, ' ', false, json::error_handler_t::replace));  // best effort
}

}  // namespace sf::host
