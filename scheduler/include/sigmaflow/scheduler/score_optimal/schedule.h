// Glue between a MODEL and the score-optimal library: cached cost estimation, the fit, the
// denoise rule and the diagnostics. Shared by the ScoreOptimalScheduler node and the named
// schedules (score_optimal, score_optimal_paper, score_optimal_predictor).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "sigmaflow/diagnostics.h"
#include "sigmaflow/diffusion/sigmas.h"
#include "sigmaflow/model.h"
#include "sigmaflow/scheduler/score_optimal/corrector_cost.h"

namespace sf::so {

// The default tail-prior weight, chosen by measurement on the presets (docs/score-optimal.md).
inline constexpr double kDefaultFloor = 0.1;

struct ScoreOptimalRequest {
  int64_t steps = 20;
  double denoise = 1.0;
  std::string cost = "corrector";   // or "predictor"
  std::string predictor = "euler";  // the step map for the predictor cost: euler or heun
  double floor = kDefaultFloor;
  EstimateOptions estimate;
  at::Tensor data;            // optional x0 samples
  std::string cache_dir;      // empty: no cache
  bool measure_steps = true;  // measure the cost of each output step (diagnostics)
  std::function<void(int64_t, int64_t)> progress;
  std::function<void(const std::string&)> info, warn;
};

struct ScoreOptimalResult {
  diffusion::Sigmas sigmas;  // steps + 1 values ending in 0 (empty for denoise <= 0)
  std::shared_ptr<ScheduleDiagnostics> diagnostics;
};

// Throws sf::InputError naming the request field at fault (steps, grid_size, cost, model), and
// an InputError about "model" when its outputs are unusable (NaN, an all-zero cost).
ScoreOptimalResult score_optimal_schedule(const Model& model, const ScoreOptimalRequest& request);

// The corrector-cost estimate for the request's model, estimate options and data: from the cache
// (rq.cache_dir) when a valid entry exists, else fresh and stored; `fresh` says which. Throws an
// InputError about "model" when the estimate is unusable.
CostEstimate cached_corrector_estimate(const Model& model, const ScoreOptimalRequest& rq, bool& fresh);
// Whether cached_corrector_estimate would find its entry in rq.cache_dir (no model evaluation).
bool corrector_estimate_cached(const Model& model, const ScoreOptimalRequest& rq);

// The fine-grid size used when a caller does not choose one (named schedules, KSampler): 256, or
// the next power of two of at least 4 x steps, so any step count gets a grid finer than itself.
int64_t grid_size_for(int64_t steps);

}  // namespace sf::so
