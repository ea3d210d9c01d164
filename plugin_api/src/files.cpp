// Atomic writes with a registry of in-flight temporary files (so an interrupted run removes them),
// and bounded reads of user-named files.
#include "sigmaflow/files.h"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace sf {

namespace {

// Fixed slots so the signal handler can walk them without allocating or locking. A slot is
// claimed with a compare-exchange; `busy` is set only after the path is fully written.
constexpr int kSlots = 64;
constexpr size_t kPathMax = 4096;
struct TempSlot {
  std::atomic<int> state{0};  // 0 free, 1 being filled, 2 registered
  char path[kPathMax];
};
TempSlot g_slots[kSlots];

int register_temp(const char* path) {
  if (std::strlen(path) >= kPathMax) return -1;
  for (int i = 0; i < kSlots; ++i) {
    int expected = 0;
    if (g_slots[i].state.compare_exchange_strong(expected, 1)) {
      std::strcpy(g_slots[i].path, path);
      g_slots[i].state.store(2);
      return i;
    }
  }
  return -1;  // more than kSlots concurrent writes: this one is not tracked
}

void unregister_temp(int slot) {
  if (slot >= 0) g_slots[slot].state.store(0);
}

std::string errno_text() { return std::strerror(errno); }

}  // namespace

void remove_inflight_temp_files() noexcept {
  for (auto& s : g_slots)
    if (s.state.load() == 2) ::unlink(s.path);
}

bool temp_files_in_flight() noexcept {
  for (auto& s : g_slots)
    if (s.state.load() != 0) return true;
  return false;
}

void remove_stale_temp_files(const std::string& folder) noexcept {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(folder, ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name[0] != '.') continue;
    // .<name>.tmp.<pid>.XXXXXX (write_file_atomic) or .<prefix>_N_.<pid>.reserved (output counters)
    size_t at = name.rfind(".tmp.");
    std::string pid_text;
    if (at != std::string::npos) {
      size_t end = name.find('.', at + 5);
      if (end != std::string::npos) pid_text = name.substr(at + 5, end - at - 5);
    } else if (name.size() > 9 && name.compare(name.size() - 9, 9, ".reserved") == 0) {
      size_t start = name.rfind('.', name.size() - 10);
      if (start != std::string::npos) pid_text = name.substr(start + 1, name.size() - 10 - start);
    }
    if (pid_text.empty() || pid_text.size() > 9 || pid_text.find_first_not_of("0123456789") != std::string::npos)
      continue;
    const pid_t pid = static_cast<pid_t>(std::stol(pid_text));
    if (pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH) fs::remove(e.path(), ec);
  }
}

Status write_file_atomic(const std::string& path, const std::string& bytes) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path target(path);
  if (target.has_parent_path()) {
    fs::create_directories(target.parent_path(), ec);
    if (ec) return IoError("cannot create folder '" + target.parent_path().string() + "': " + ec.message());
  }
  // .<name>.tmp.<pid>.XXXXXX: the writer's pid lets a later run remove what a killed one left
  // (remove_stale_temp_files).
  std::string tmpl = (target.has_parent_path() ? target.parent_path().string() + "/" : std::string()) + "." +
                     target.filename().string() + ".tmp." + std::to_string(::getpid()) + ".XXXXXX";
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  int fd = ::mkstemp(name.data());
  if (fd < 0) return IoError("cannot write '" + path + "': " + errno_text());
  int slot = register_temp(name.data());
  auto fail = [&](const std::string& what) {
    ::close(fd);
    ::unlink(name.data());
    unregister_temp(slot);
    return IoError(what);
  };
  const char* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write '" + path + "': " + errno_text());
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  ::fchmod(fd, 0644);
  if (::fsync(fd) != 0) return fail("cannot write '" + path + "': " + errno_text());
  if (::close(fd) != 0) {
    ::unlink(name.data());
    unregister_temp(slot);
    return IoError("cannot write '" + path + "': " + errno_text());
  }
  if (::rename(name.data(), path.c_str()) != 0) {
    std::string err = errno_text();
    ::unlink(name.data());
    unregister_temp(slot);
    return IoError("cannot rename into '" + path + "': " + err);
  }
  unregister_temp(slot);
  return Status::Ok();
}

Result<uint64_t> check_readable_file(const std::string& path, uint64_t max_bytes) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return NotFound("'" + path + "' does not exist");
    return IoError("cannot read '" + path + "': " + errno_text());
  }
  if (S_ISDIR(st.st_mode)) return InvalidArgument("'" + path + "' is a folder, not a file");
  if (!S_ISREG(st.st_mode))
    return InvalidArgument("'" + path + "' is not a regular file (a device, pipe or socket cannot be read as data)");
  auto size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes)
    return ResourceExhausted("'" + path + "' is " + std::to_string(size) + " bytes, over the limit of " +
                             std::to_string(max_bytes) + " bytes for this kind of file (docs/limits.md)");
  return size;
}

Result<std::string> read_file_bounded(const std::string& path, uint64_t max_bytes) {
  auto size = check_readable_file(path, max_bytes);
  if (!size.ok()) return size.status();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open '" + path + "': " + errno_text());
  std::string out;
  out.reserve(static_cast<size_t>(*size));
  char buf[1 << 16];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string err = errno_text();
      ::close(fd);
      return IoError("cannot read '" + path + "': " + err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {  // the file grew while being read
      ::close(fd);
      return ResourceExhausted("'" + path + "' grew past the limit of " + std::to_string(max_bytes) + " bytes");
    }
  }
  ::close(fd);
  return out;
}

std::string user_cache_dir() {
  if (const char* d = std::getenv("SIGMAFLOW_CACHE_DIR"); d && *d) return d;
  if (const char* d = std::getenv("XDG_CACHE_HOME"); d && *d) return std::string(d) + "/sigmaflow";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/sigmaflow";
  // No HOME: the account's home folder, else a private folder of this user in the temp folder
  // (never a shared one, where another local user could plant forged cache entries).
  if (const passwd* pw = ::getpwuid(::getuid()); pw && pw->pw_dir && *pw->pw_dir && std::string(pw->pw_dir) != "/")
    return std::string(pw->pw_dir) + "/.cache/sigmaflow";
  const std::string dir = "/tmp/sigmaflow-cache-" + std::to_string(::getuid());
  ::mkdir(dir.c_str(), 0700);
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::getuid() || (st.st_mode & 077) != 0)
    return "";  // someone else's, a link, or open to others: no cache rather than a forged one
  return dir;
}

}  // namespace sf
