// How good a model is, against an exact one: the denoiser's error per noise band, and the
// likelihood of data under the model's probability-flow ODE.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "sigmaflow/collectives.h"
#include "sigmaflow/model.h"

namespace sf::diffusion {

struct ScoreErrorResult {
  std::vector<double> band_lo, band_hi;  // band edges (sigma), ascending
  std::vector<double> band_error;        // mean ||D - D_true||^2 / d per band
  double weighted = 0.0;                 // mean over all rows of lambda(sigma) ||D - D_true||^2 / d
  double sigma_data = 0.0;               // the data's std used by lambda
};

// x0 = reference.sample_data(n, seed); each of `bands` log-uniform bands of [sigma_min,
// sigma_max] gets n rows with sigma log-uniform in the band and x = x0 + sigma n (noise from
// `seed`). Both models see the same x. lambda is EDM's weight with the data's std.
// Under torchrun (`group`), each rank evaluates its rows of every band and the per-row errors
// are gathered, so every rank returns the single process's result.
// `progress(done, total)`, when given, after each band (called on the calling thread).
using ProgressFn = std::function<void(int64_t, int64_t)>;
ScoreErrorResult score_error(const Model& model, const Model& reference, int64_t n, int64_t bands, double sigma_min,
                             double sigma_max, uint64_t seed, const Collectives* group = nullptr,
                             const ProgressFn& progress = {});

// log p(x) (nats, [N] float64) of the probability-flow ODE dx/d(ln sigma) = x - D(x, sigma) run
// from sigma_min to sigma_max by Heun's method in ln sigma with `steps` steps, with the exact
// divergence (d backward passes per evaluation) and the prior N(0, sigma_max^2 I). Throws an
// sf::InputError about "model" when its dimension exceeds max_dim (std::invalid_argument for
// settings out of range). `progress(done, steps)` after each step.
at::Tensor ode_log_likelihood(const Model& model, const at::Tensor& x, int64_t steps, double sigma_min,
                              double sigma_max, int64_t max_dim = 64, const ProgressFn& progress = {});

}  // namespace sf::diffusion
