// The optimal-steps caches (docs/optimal-steps.md, "Caches"): the plan of a DP, the held-out
// selection, and the automatic settings, each one JSON file under <cache>/optimal_steps/ named by
// the hash of its key and holding that key. A cache file is input from outside (another run,
// another version, another user, a full disk): reading one never throws, and anything that is not
// an entry this code wrote for this key (missing, oversized, nested too deeply, not JSON, another
// key, a field of the wrong type or out of range) is refused with `why` ("missing",
// "corrupted: ...", "stale: ..."). Fuzzed by fuzz/fuzz_caches.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sigmaflow/scheduler/optimal_steps/optimal_steps.h"
#include "sigmaflow/scheduler/optimal_steps/selection.h"
#include "sigmaflow/status.h"

namespace sf::oss {

// <dir>/optimal_steps/<hash of key>.json
std::string plan_file(const std::string& dir, const std::string& key);

// A plan for schedules up to n_max steps on a grid of K + 1 levels: N_max schedules, each empty or
// N + 1 strictly descending values ending in 0, finite training errors where a schedule exists.
std::optional<OptimalStepsPlan> load_plan(const std::string& file, const std::string& key, int64_t n_max, int64_t K,
                                          std::string& why);
Status store_plan(const std::string& file, const std::string& key, const OptimalStepsPlan& plan);

// A selection is used only when its candidates are the request's (labels and schedules).
std::optional<Selection> load_selection(const std::string& file, const std::string& key,
                                        const std::vector<CandidateSchedule>& candidates, std::string& why);
Status store_selection(const std::string& file, const std::string& key, const Selection& selection);

// The automatic settings chosen for a model, sampler and budget (resolve_automatic_settings).
struct AutoSettings {
  int64_t grid_size = 0;                // K >= 1
  int64_t training_noises = 0;          // M >= 1
  double seconds_per_evaluation = 0.0;  // > 0, finite
};
std::optional<AutoSettings> load_auto_settings(const std::string& file, const std::string& key, std::string& why);
Status store_auto_settings(const std::string& file, const std::string& key, const AutoSettings& settings);

}  // namespace sf::oss
