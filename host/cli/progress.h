// Run progress for the CLI: on a terminal, one line per node with a live progress bar for long
// nodes; otherwise one plain line per finished node (stable, grep-able) and, for a node that has
// run 5 s or more, a line at every tenth of its progress with the estimated time left (a log
// must not stay silent for minutes); with --json, one JSON
// object per event and line (executing, progress, executed, message), the events the server
// streams as ComfyUI websocket messages.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include "exec/executor.h"

namespace sf::host {

class ConsoleProgress : public RunObserver {
 public:
  // `out` receives node lines; `tty` enables the bar; `json` switches to JSON events.
  ConsoleProgress(std::FILE* out, bool tty, bool json = false) : out_(out), tty_(tty && !json), json_(json) {}
  void node_started(size_t index, size_t total, const PlannedNode& node) override;
  void node_progress(const PlannedNode& node, int64_t done, int64_t total) override;
  void node_finished(const PlannedNode& node, double seconds, bool cached) override;
  void message(const PlannedNode& node, bool warning, const std::string& text) override;
  // Put before every line (e.g. "[rank 1] " for the other ranks of a torchrun launch).
  std::string line_prefix;
  // Plain logs: a node reports its tenths only after running this long (short nodes stay quiet).
  double quiet_seconds = 5.0;

 private:
  std::string prefix(const PlannedNode& node) const;
  void event(const std::string& json_text);
  std::FILE* out_;
  bool tty_, json_;
  size_t index_ = 0, total_ = 0;
  std::chrono::steady_clock::time_point last_draw_{};
  std::chrono::steady_clock::time_point node_start_{};
  int64_t last_tenth_ = 0;  // plain logs: the last tenth of progress reported for this node
};

}  // namespace sf::host
