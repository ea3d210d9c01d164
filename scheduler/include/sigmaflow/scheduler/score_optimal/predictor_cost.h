// The predictor-optimised cost (the paper's second cost):
//   L_p(sigma -> sigma') = sigma'^2 E_{y ~ F#p_sigma} || grad log p_sigma'(y) - grad log F#p_sigma(y) ||^2,
// F the Euler (= DDIM in VE space) or Heun step from sigma to sigma'. The push-forward score at
// y = F(x) is J_F(x)^{-T} (grad log p_sigma(x) - grad_x log |det J_F(x)|).
//
// Small dimensions (d <= exact_jacobian_max_dim): exact Jacobians by autograd, slogdet, exact
// solves; a sample with det J_F <= 0 (a folded step map) is counted and left out. Larger d:
// Hutchinson estimates of grad log|det J| (double backward) and conjugate-gradient solves with
// vector-Jacobian products; a solve that does not converge counts as folded.
//
// L_p scales faster than h^2, so it is equalised at the target N by iteration: cost the current
// N-step schedule, Algorithm 1 on those costs, blend with gamma (Algorithm 2), repeat.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <vector>

#include "sigmaflow/scheduler/score_optimal/corrector_cost.h"
#include "sigmaflow/scheduler/score_optimal/schedule_fit.h"

namespace sf::so {

struct PredictorOptions {
  EstimateOptions estimate;        // particles, seed, reverse_steps (grid_size is not used)
  std::string step_map = "euler";  // "euler" or "heun"
  FitOptions fit;
  int iterations = 6;
  double gamma = 0.5;
  int64_t exact_jacobian_max_dim = 32;
  int hutchinson_probes = 4;
  int cg_iterations = 60;
  double cg_tolerance = 1e-6;
};

struct PredictorStepCost {
  double cost = 0.0;   // mean over unfolded samples, times sigma'^2
  int64_t folded = 0;  // samples left out
  int64_t samples = 0;
};

// L_p for one step with samples x ~ p_sigma ([K, ...sample shape]).
PredictorStepCost predictor_step_cost(const Denoiser& denoise, const at::Tensor& x, double sigma, double sigma_next,
                                      const PredictorOptions& options, int64_t* nfe);

struct PredictorResult {
  std::vector<double> schedule;    // steps + 1 values, sigma_max ... sigma_min
  std::vector<double> step_costs;  // L_p of each step of the final schedule
  int64_t nfe = 0;
  double seconds = 0.0;
  int64_t folded_samples = 0;
};

PredictorResult predictor_optimal_schedule(const Model& model, int64_t steps, const PredictorOptions& options,
                                           const at::Tensor& data = {},
                                           const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace sf::so
