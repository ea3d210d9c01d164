#include "torchscript_probe.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>

extern char** environ;

namespace sf::diffusion {

namespace {

constexpr int kRefused = 3;
constexpr size_t kMaxReason = 4096;

std::string library_dir() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&torchscript_probe_path), &info) == 0 || !info.dli_fname) return ".";
  const std::string file = info.dli_fname;
  const size_t slash = file.rfind('/');
  return slash == std::string::npos ? std::string(".") : file.substr(0, slash);
}

// Runs the probe; its stdout (the reason) into `reason`. Returns the wait status, or -1 with
// `reason` set when it could not be started.
int run_probe(const std::string& probe, const std::string& path, uint64_t file_bytes, std::string& reason) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    reason = std::string("cannot start the TorchScript probe: ") + std::strerror(errno);
    return -1;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  const std::string bytes = std::to_string(file_bytes);
  char* argv[] = {const_cast<char*>(probe.c_str()), const_cast<char*>(path.c_str()), const_cast<char*>(bytes.c_str()),
                  nullptr};
  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, probe.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (spawned != 0) {
    ::close(fds[0]);
    reason = "the TorchScript probe '" + probe + "' did not start (" + std::strerror(spawned) +
             "; install it with sigmaflow, or name it in SIGMAFLOW_TORCHSCRIPT_PROBE)";
    return -1;
  }
  char buf[1024];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    if (reason.size() < kMaxReason) reason.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

}  // namespace

std::string torchscript_probe_path() {
  if (const char* env = std::getenv("SIGMAFLOW_TORCHSCRIPT_PROBE"); env && *env) return env;
  const std::string dir = library_dir(), probe = "libexec/sigmaflow/sigmaflow-torchscript-probe";
  for (const std::string& up : {dir + "/../", dir + "/../../"})
    if (::access((up + probe).c_str(), X_OK) == 0) return up + probe;
  return dir + "/../" + probe;
}

std::string probe_torchscript(const std::string& path, uint64_t file_bytes) {
  static std::mutex mutex;
  static std::map<std::string, std::string> verdicts;  // "path|size|mtime" -> reason
  struct stat st {};
  const std::string key = ::stat(path.c_str(), &st) == 0
                              ? path + "|" + std::to_string(st.st_size) + "|" + std::to_string(st.st_mtim.tv_sec) +
                                    "." + std::to_string(st.st_mtim.tv_nsec)
                              : std::string();
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (auto it = verdicts.find(key); !key.empty() && it != verdicts.end()) return it->second;
  }
  const std::string probe = torchscript_probe_path();
  std::string reason;
  const int status = run_probe(probe, path, file_bytes, reason);
  if (status < 0) throw std::runtime_error(reason);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    reason.clear();
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == kRefused) {
    if (reason.empty()) reason = "LibTorch refused it";
  } else if (WIFSIGNALED(status)) {
    reason = "LibTorch crashed while reading it (signal " + std::to_string(WTERMSIG(status)) + ", " +
             strsignal(WTERMSIG(status)) + ")";
  } else {
    throw std::runtime_error("the TorchScript probe '" + probe + "' exited with status " +
                             std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + " on '" + path + "'");
  }
  std::lock_guard<std::mutex> lock(mutex);
  if (!key.empty()) verdicts[key] = reason;
  return reason;
}

}  // namespace sf::diffusion
