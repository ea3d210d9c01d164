// The corrector-optimised cost of Williams et al. (NeurIPS 2024), estimated by Monte Carlo:
//   L_c(sigma -> sigma') = sigma'^2 E_{x ~ p_sigma} || s(x, sigma') - s(x, sigma) ||^2,
// both scores at the same x, the expectation over the level being left, the weight from the level
// entered. Evaluations are batched across levels and particles on the model's device; sums are
// accumulated in float64.
#pragma once

#include "sigmaflow/collectives.h"

#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <vector>

#include "sigmaflow/model.h"

#include "sigmaflow/scheduler/score_optimal/schedule_fit.h"

namespace sf::so {

// D(x, sigma) in VE space: x [B, ...] on the model's device, sigma per row or shared (host
// float64). Must be safe to call with any batch size. Throws on failure.
using Denoiser = std::function<at::Tensor(const at::Tensor& x, const NoiseLevels& sigma)>;

struct EstimateOptions {
  int64_t grid_size = 256;  // intervals of the log-uniform fine grid
  int64_t particles = 512;  // Monte Carlo samples per level
  uint64_t seed = 0;
  // Same x0 and noise at every level instead of fresh draws (measured 2-6.5x less stable; kept
  // as an option and for closed-form checks).
  bool common_random_numbers = false;
  // Steps of the model's own reverse process (Heun on a log-uniform grid) used to draw x0 when
  // no data is given.
  int64_t reverse_steps = 128;
  // Upper bound on tensor elements per batched call (levels x particles x dim).
  int64_t memory_budget = int64_t{1} << 22;
  // Under torchrun: the reverse-process particles are split by rows and the level chunks by
  // chunk index (chunk c on rank c mod world size); every rank still draws every random number,
  // so the estimate is the single process's. Every rank must call with the same options.
  const Collectives* group = nullptr;
};

struct CostEstimate {
  CostCurve curve;              // grid (descending) and L_c per interval
  std::vector<double> stderr_;  // Monte Carlo standard error per interval
  int64_t nfe = 0;              // model evaluations spent
  double seconds = 0.0;
  bool from_data = false;  // x0 came from data samples rather than the model's reverse process
  at::Tensor samples;      // the reverse-process x0 of a fresh estimate (not cached; undefined otherwise)
};

// The log-uniform grid of grid_size intervals from sigma_max down to sigma_min.
std::vector<double> log_grid(double sigma_min, double sigma_max, int64_t intervals);

// The model's denoise() as a Denoiser (the model must outlive it).
Denoiser model_denoiser(const Model& model);

// Draws x0 by running the model's own probability-flow ODE (Heun, `steps` log-uniform steps from
// its sigma_max to its sigma_min, then the final denoise), n samples on its device and dtype.
// Noise is generated on the CPU from `seed`.
at::Tensor reverse_process_samples(const Model& model, int64_t n, int64_t steps, uint64_t seed, int64_t* nfe,
                                   const Collectives* group = nullptr);

// Estimates L_c for the model on the fine grid between its sigma_min and sigma_max, on its device
// and dtype. `data` ([M, ...sample_shape]) gives x0 by forward noising; when undefined, x0 comes
// from reverse_process_samples. `progress(done, total)` reports levels. Throws
// an InputError about "model" naming the sigma if the model returns NaN/Inf.
CostEstimate estimate_corrector_cost(const Model& model, const EstimateOptions& options, const at::Tensor& data = {},
                                     const std::function<void(int64_t, int64_t)>& progress = {});

// L_c measured directly on the steps of a given schedule (descending, positive values), with
// x0 samples `x0` ([M, ...]); used to check the equal-cost property and for online updates. Step k
// draws from its own stream (stream_seed(seed, k)); with `group`, step k runs on rank k mod world
// size and the costs are summed across ranks (each step's value comes from one rank).
std::vector<double> step_costs(const Denoiser& denoise, const std::vector<double>& schedule, const at::Tensor& x0,
                               int64_t particles, uint64_t seed, int64_t* nfe, const Collectives* group = nullptr);

}  // namespace sf::so
