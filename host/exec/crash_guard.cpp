#include "exec/crash_guard.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "sigmaflow/crash_note.h"
#include "sigmaflow/files.h"

namespace sf::host {

namespace {

constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
constexpr size_t kMessageMax = 1024;
char g_running[kMessageMax];
std::atomic<bool> g_have_running{false};
struct sigaction g_previous[sizeof kSignals / sizeof kSignals[0]];
char* g_alt_stack = nullptr;
stack_t g_old_stack{};

// Files to remove when the process ends by a signal (output-counter reservations).
constexpr int kExitFiles = 64;
struct ExitFile {
  std::atomic<int> state{0};  // 0 free, 1 being filled, 2 tracked
  char path[4096];
};
ExitFile g_exit_files[kExitFiles];

void remove_exit_files() {
  for (auto& f : g_exit_files)
    if (f.state.load() == 2) ::unlink(f.path);
}

void write_all(const char* s, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(2, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}

// Async-signal-safe: writes prepared text, removes temporary files, exits.
void on_fatal(int sig) {
  const char* name = sig == SIGSEGV  ? "SIGSEGV (segmentation fault)"
                     : sig == SIGBUS ? "SIGBUS (bus error)"
                     : sig == SIGFPE ? "SIGFPE (arithmetic exception)"
                     : sig == SIGILL ? "SIGILL (illegal instruction)"
                                     : "SIGABRT (abort)";
  const char* head = "\nerror: fatal signal ";
  write_all(head, std::strlen(head));
  write_all(name, std::strlen(name));
  if (g_have_running.load()) {
    const char* mid = " while running ";
    write_all(mid, std::strlen(mid));
    write_all(g_running, strnlen(g_running, kMessageMax));
  }
  // What the node said it was doing (sigmaflow/crash_note.h): the input and value to blame.
  const char* note = crash_note();
  if (*note) {
    write_all(": ", 2);
    write_all(note, std::strlen(note));
  }
  write_all("\n", 1);
  remove_inflight_temp_files();
  remove_exit_files();
  _exit(4);
}

struct sigaction g_prev_int, g_prev_term;
std::atomic<std::atomic<bool>*> g_graceful{nullptr};

// Async-signal-safe: "<head> while running <node><tail>".
void write_interrupted(const char* head, const char* tail) {
  write_all(head, std::strlen(head));
  if (g_have_running.load()) {
    const char* mid = " while running ";
    write_all(mid, std::strlen(mid));
    write_all(g_running, strnlen(g_running, kMessageMax));
  }
  write_all(tail, std::strlen(tail));
}

void on_interrupt(int sig) {
  std::atomic<bool>* graceful = g_graceful.load();
  if (sig == SIGINT && graceful && !graceful->exchange(true) && !temp_files_in_flight()) {
    write_interrupted("\ninterrupted (SIGINT)", ": stopping at its next step (Ctrl-C again to quit at once)\n");
    return;
  }
  write_interrupted(sig == SIGINT ? "\ninterrupted (SIGINT)" : "\nterminated (SIGTERM)", "; temporary files removed\n");
  remove_inflight_temp_files();
  remove_exit_files();
  _exit(130);
}

}  // namespace

int track_file_for_exit(const std::string& path) noexcept {
  if (path.size() >= sizeof g_exit_files[0].path) return -1;
  for (int i = 0; i < kExitFiles; ++i) {
    int expected = 0;
    if (g_exit_files[i].state.compare_exchange_strong(expected, 1)) {
      std::memcpy(g_exit_files[i].path, path.c_str(), path.size() + 1);
      g_exit_files[i].state.store(2);
      return i;
    }
  }
  return -1;
}

void untrack_file_for_exit(int slot) noexcept {
  if (slot >= 0 && slot < kExitFiles) g_exit_files[slot].state.store(0);
}

InterruptExit::InterruptExit(std::atomic<bool>* graceful) {
  g_graceful.store(graceful);
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &g_prev_int);
  sigaction(SIGTERM, &sa, &g_prev_term);
}

InterruptExit::~InterruptExit() {
  g_graceful.store(nullptr);
  sigaction(SIGINT, &g_prev_int, nullptr);
  sigaction(SIGTERM, &g_prev_term, nullptr);
}

CrashGuard::CrashGuard() {
  const size_t size = 1 << 16;
  g_alt_stack = static_cast<char*>(std::malloc(size));
  if (g_alt_stack) {
    stack_t st{};
    st.ss_sp = g_alt_stack;
    st.ss_size = size;
    sigaltstack(&st, &g_old_stack);
  }
  struct sigaction sa {};
  sa.sa_handler = on_fatal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
  for (size_t i = 0; i < sizeof kSignals / sizeof kSignals[0]; ++i) sigaction(kSignals[i], &sa, &g_previous[i]);
}

CrashGuard::~CrashGuard() {
  for (size_t i = 0; i < sizeof kSignals / sizeof kSignals[0]; ++i) sigaction(kSignals[i], &g_previous[i], nullptr);
  if (g_alt_stack) {
    sigaltstack(&g_old_stack, nullptr);
    std::free(g_alt_stack);
    g_alt_stack = nullptr;
  }
  set_running({});
}

void CrashGuard::set_running(const std::string& what) {
  g_have_running.store(false);
  std::strncpy(g_running, what.c_str(), kMessageMax - 1);
  g_running[kMessageMax - 1] = '\0';
  g_have_running.store(!what.empty());
}

}  // namespace sf::host
