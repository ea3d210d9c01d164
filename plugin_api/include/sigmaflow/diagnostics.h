// SCHEDULE_DIAGNOSTICS: what an optimised scheduler learned, for plots and reports.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sigmaflow/value.h"

namespace sf {

class SF_SHARED ScheduleDiagnostics : public Object {
 public:
  ~ScheduleDiagnostics() override;
  std::string type_name() const override { return "SCHEDULE_DIAGNOSTICS"; }
  std::string describe() const override;

  std::string method;                 // e.g. "score_optimal corrector floor=0.1"
  std::vector<double> grid;           // fine grid, descending
  std::vector<double> interval_cost;  // estimated cost per grid interval (before the floor)
  std::vector<double> cumulative;     // cumulative length Lambda on the grid (after the floor)
  std::vector<double> schedule;       // the output schedule (without the trailing 0)
  std::vector<double> step_cost;      // cost of each step of the output schedule, measured directly
  int64_t nfe = 0;                    // model evaluations spent (0 when served from the cache)
  double seconds = 0.0;
  bool from_cache = false;
  int64_t folded_samples = 0;  // predictor cost: samples whose step map folded (det J <= 0)
  // Sampler-aware optimisers (optimal_steps): RMS error of the N-step output against the
  // converged reference on the training noises, index N - 1 (NaN where no schedule exists).
  std::vector<double> training_error;
  std::string sampler;  // the sampler a sampler-aware schedule was optimised for (else empty)
};

}  // namespace sf
