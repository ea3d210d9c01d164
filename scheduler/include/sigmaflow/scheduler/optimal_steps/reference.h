// What the optimal-steps DP measures against: a grid of candidate sigmas and the converged
// probability-flow ODE solution on it for a fixed set of training noises.
#pragma once

#include <ATen/core/Tensor.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "sigmaflow/scheduler/score_optimal/corrector_cost.h"

namespace sf::oss {

// D(x, sigma) on float64 states [B, ...sample shape] (the glue converts to the model's dtype).
using Denoiser = so::Denoiser;

// K + 1 descending sigmas, log-uniform from sigma_max to sigma_min.
std::vector<double> log_uniform_grid(double sigma_min, double sigma_max, int64_t intervals);

// K + 1 descending sigmas from curve.grid.front() to curve.grid.back(), at equal steps of the
// blended length (1 - log_share) Lambda_c / Lambda_c(total) + log_share * log-sigma / total, where
// Lambda_c is the paper's cumulative corrector length (sum of sqrt L_c): points gather where the
// distribution moves, and the log share keeps every region covered.
std::vector<double> cost_grid(const so::CostCurve& curve, int64_t intervals, double log_share);

struct Reference {
  std::vector<double> grid;  // K + 1 descending sigmas; grid.back() = sigma_min
  at::Tensor x;              // [K + 1, M, ...] float64: the ODE solution at each grid sigma
  at::Tensor final;          // [M, ...] D(x(sigma_min), sigma_min): what a converged sampler returns
  int64_t nfe = 0;
};

// Integrates the probability-flow ODE from x(grid[0]) = grid[0] * noise (noise [M, ...] float64)
// with Heun, `substeps` log-uniform sub-steps per grid interval, storing the state at each grid
// sigma. Throws an InputError about "model" naming the sigma when the denoiser returns NaN or Inf, and
// sf::Interrupted when `interrupt` becomes true.
Reference integrate_reference(const Denoiser& denoise, std::vector<double> grid, const at::Tensor& noise,
                              int64_t substeps, const std::atomic<bool>* interrupt = nullptr,
                              const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace sf::oss
