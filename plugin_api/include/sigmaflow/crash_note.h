// A note for the fatal-signal report (API 2.3). Some libraries a node calls can crash the process
// on bad input, with no exception to catch (LibTorch 1.13's TorchScript parser reads freed memory
// on some malformed files: a SIGSEGV in a fraction of runs). The host then ends the run with exit
// code 4, naming the node; a node that sets a note around such a call gets it printed too, so the
// message names the input and the value. Torch-free.
//
// Threading: one note for the process (the executor runs one node at a time); set and cleared
// by the node's thread. crash_note() is async-signal-safe.
#pragma once

#include <string>

namespace sf {

// Copies up to 1023 bytes of `text`; nullptr or "" clears the note.
__attribute__((visibility("default"))) void set_crash_note(const char* text) noexcept;
// The note, or "" when none.
__attribute__((visibility("default"))) const char* crash_note() noexcept;

// Sets the note for a scope.
class ScopedCrashNote {
 public:
  explicit ScopedCrashNote(const std::string& text) { set_crash_note(text.c_str()); }
  ~ScopedCrashNote() { set_crash_note(nullptr); }
  ScopedCrashNote(const ScopedCrashNote&) = delete;
  ScopedCrashNote& operator=(const ScopedCrashNote&) = delete;
};

}  // namespace sf
