// A fatal signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) inside a node's execute ends the
// process with exit code 4 after printing which node, class_type and plugin was running, and
// removing in-flight temporary files. Installed for the duration of a run.
#pragma once

#include <atomic>

#include <string>

namespace sf::host {

class CrashGuard {
 public:
  // Installs the handlers (on an alternate stack, so a stack overflow is reported too); restores
  // the previous ones when destroyed.
  CrashGuard();
  ~CrashGuard();
  CrashGuard(const CrashGuard&) = delete;
  CrashGuard& operator=(const CrashGuard&) = delete;

  // What is running now (copied into a fixed buffer the handler prints); empty: nothing.
  static void set_running(const std::string& what);
};

// SIGINT / SIGTERM for the command line: print which node was interrupted, remove in-flight
// temporary files, exit with 130. Installed for the life of the object.
// With `graceful` set, the first SIGINT only sets it (the running node stops at its next step:
// samplers, estimators, TrainDenoiser, which writes a checkpoint) unless a file write is in
// flight; a second SIGINT, or SIGTERM, exits at once as above.
// Files the signal handlers above remove before the process exits (output-counter reservations
// that a normal end removes itself). Async-signal-safe on the handler's side; 64 at a time
// (track_file_for_exit returns -1 when full: that file is not tracked).
int track_file_for_exit(const std::string& path) noexcept;
void untrack_file_for_exit(int slot) noexcept;

class InterruptExit {
 public:
  explicit InterruptExit(std::atomic<bool>* graceful = nullptr);
  ~InterruptExit();
  InterruptExit(const InterruptExit&) = delete;
  InterruptExit& operator=(const InterruptExit&) = delete;
};

}  // namespace sf::host
