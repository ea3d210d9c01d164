// Settings for a named schedule where a node uses it by name (API 3.3).
//
// KSampler, BasicScheduler and ScheduleSweep pick schedules by name, and a named schedule's
// compute function has no settings of its own. A schedule that has settings worth choosing
// (optimal_steps: training noises, grid, held-out selection, ...) also offers an options node
// (OptimalStepsOptions) whose SCHEDULE_OPTIONS value computes that schedule with them; a node that
// takes a `schedule_options` input uses it for the schedule it names:
//
//   {"7": {"class_type": "OptimalStepsOptions", "inputs": {"training_noises": 1024}},
//    "3": {"class_type": "KSampler", "inputs": {"scheduler": "optimal_steps", "schedule_options": ["7", 0], ...}}}
//
// The value is a capability object, as a MODEL is: it lives in the plugin that owns the schedule,
// so nothing in the host or in the plugins' allocated structs changes (additive in 3.x).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sigmaflow/model.h"
#include "sigmaflow/node.h"
#include "sigmaflow/status.h"
#include "sigmaflow/value.h"

namespace sf {

class SF_SHARED ScheduleOptions : public Object {
 public:
  ~ScheduleOptions() override;
  std::string type_name() const override { return "SCHEDULE_OPTIONS"; }
  // The named schedule these settings are for ("optimal_steps").
  virtual std::string schedule() const = 0;
  // That schedule with these settings, as the named schedule's own compute: steps + 1 float64
  // values, descending, ending in 0. Never throws (errors are values).
  virtual Result<std::vector<double>> compute(const Model& model, int64_t steps, const ScheduleHints& hints) const = 0;
};

// The schedule a node names, for `steps` steps: computed by `options` when they are given and are
// for `name` (checked with check_full_schedule), else by the host's named schedule. Options for
// another schedule are an error about `options_input` naming both, so a connected input is never
// silently ignored.
Result<std::vector<double>> compute_named_schedule(Context& ctx, const std::string& name, const Model& model,
                                                   int64_t steps, const ScheduleHints& hints,
                                                   const ScheduleOptions* options, const std::string& options_input);

}  // namespace sf
