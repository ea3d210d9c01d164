// The Context the host gives a running node: progress and messages go to the RunObserver,
// registries come from the NodeSource, output names follow ComfyUI's counters. One instance per
// node execution.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "exec/executor.h"

namespace sf::host {

class HostContext : public Context {
 public:
  HostContext(const NodeSource& source, const RunOptions& options, const Graph& graph, const PlannedNode& node,
              RunObserver* observer, std::vector<std::string>& files)
      : source_(source), options_(options), graph_(graph), node_(node), observer_(observer), files_(files) {}
  ~HostContext() override;
  HostContext(const HostContext&) = delete;
  HostContext& operator=(const HostContext&) = delete;

  const std::string& node_id() const override { return node_.id; }
  const std::string& class_type() const override { return node_.entry->contract.class_type; }
  void progress(int64_t done, int64_t total) override {
    if (observer_) observer_->node_progress(node_, done, total);
  }
  void info(const std::string& m) override {
    if (observer_) observer_->message(node_, false, m);
  }
  void warn(const std::string& m) override {
    if (observer_) observer_->message(node_, true, m);
  }
  std::string output_dir() const override { return options_.output_dir; }
  std::string cache_dir() const override { return options_.cache_dir; }
  Result<std::string> output_path(const std::string& prefix, const std::string& suffix,
                                  const std::string& input) override;
  void record_output(const std::string& path) override { files_.push_back(path); }
  Result<std::string> resolve_path(const std::string& path, const std::string& input) const override;
  c10::Device default_device() const override { return options_.device; }
  std::string graph_json() const override { return graph_.text; }
  std::string versions() const override { return options_.versions; }

  std::vector<std::string> schedule_names() const override { return source_.catalogue().schedule_names(); }
  Result<std::vector<double>> compute_schedule(const std::string& name, const Model& model, int64_t steps,
                                               const ScheduleHints& hints) const override;
  bool schedule_uses_sampler(const std::string& name) const override;
  std::vector<std::string> sampler_names() const override { return source_.catalogue().sampler_names(); }
  Result<SamplerTraits> sampler_traits(const std::string& name) const override;
  Result<std::shared_ptr<const Sampler>> make_sampler(const std::string& name,
                                                      const SamplerSettings& settings) const override;
  const std::atomic<bool>* interrupt_flag() const override { return options_.interrupt; }
  const Collectives* collectives() const override { return options_.collectives; }

 private:
  const NodeSource& source_;
  const RunOptions& options_;
  const Graph& graph_;
  const PlannedNode& node_;
  RunObserver* observer_;
  std::vector<std::string>& files_;
  std::map<std::string, int64_t> counters_;  // prefix -> the counter this execution uses
  // Counter marks this execution created, with their slots in the signal handlers' list.
  std::vector<std::pair<std::string, int>> reservations_;
};

// resolve_path's rule, given the graph file's folder ("" when none).
Result<std::string> resolve_input_path(const std::string& path, const std::string& graph_dir);

// resolve_path's rule in the server: `path` names a regular file inside one of `roots` (tried in
// order). Absolute paths, '..', control characters and symlinks that leave the folder are refused;
// messages name only the path as given and the folders, never what lies outside them, and do not
// say whether a refused path exists.
Result<std::string> resolve_confined_path(const std::string& path, const std::vector<std::string>& roots);

// Checks a user's filename prefix (empty, absolute, '..', NUL, control characters, a trailing '/'
// or '.'); the message says what is wrong.
Status check_output_prefix(const std::string& prefix);
// The next free ComfyUI counter for `prefix` in `dir`: 1 + the largest N (5 digits or more) of
// existing files named <prefix>_N_* and of reservations .<prefix>_N_.reserved.
int64_t next_output_counter(const std::string& dir, const std::string& prefix);
// The next free counter, reserved atomically (an O_EXCL mark file beside the outputs) so that
// concurrent runs writing into one folder with one prefix get distinct counters. `reservation`
// is the mark's path, to remove once the files are written ("" when none could be made).
int64_t reserve_output_counter(const std::string& dir, const std::string& prefix, std::string& reservation);

}  // namespace sf::host
