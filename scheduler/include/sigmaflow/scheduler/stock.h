// The stock noise schedules, computed in float64 exactly as k-diffusion / ComfyUI define them
// (conventions.md §3-4). Every function returns the full schedule as diffusion::Sigmas, the one
// schedule type from scheduler to sampler (host float64): descending, ending in 0 unless noted.
//
// Errors: throw sf::InputError naming the offending parameter by its node input name ("steps",
// "sigma_min", "rho", ...).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sigmaflow/diffusion/sigmas.h"

namespace sf::schedules {

using diffusion::Sigmas;

// numpy/torch linspace(a, b, n); n = 1 gives {a}.
std::vector<double> linspace(double a, double b, int64_t n);

Sigmas karras(int64_t n, double sigma_min, double sigma_max, double rho = 7.0);
Sigmas exponential(int64_t n, double sigma_min, double sigma_max);
Sigmas polyexponential(int64_t n, double sigma_min, double sigma_max, double rho = 1.0);
Sigmas vp(int64_t n, double beta_d = 19.9, double beta_min = 0.1, double eps_s = 1e-3);
// Laplace (Tiankai et al. 2024): n values, NO trailing 0 (as k-diffusion / ComfyUI).
Sigmas laplace(int64_t n, double sigma_min, double sigma_max, double mu = 0.0, double beta = 0.5);
// KL-optimal (AYS paper appendix): tan of a linear blend of atan(sigma); n = 1 gives {smax, 0}.
Sigmas kl_optimal(int64_t n, double sigma_min, double sigma_max);
// Linear then quadratic in 1 - sigma/sigma_max (ComfyUI's linear_quadratic, for flow models).
Sigmas linear_quadratic(int64_t n, double sigma_max, double threshold_noise = 0.025, int64_t linear_steps = -1);

// Table-based schedules. `table` is the model's ascending sigma table (1000 entries for
// discrete models); timestep()/sigma_at() are the model's maps.
struct TimeMap {
  std::vector<double> table;  // ascending
  double sigma_min = 0, sigma_max = 0;
  double (*timestep)(const void* model, double sigma) = nullptr;
  double (*sigma_at)(const void* model, double t) = nullptr;
  const void* model = nullptr;
};
Sigmas simple(int64_t n, const std::vector<double>& table);
Sigmas ddim_uniform(int64_t n, const std::vector<double>& table);
Sigmas normal(int64_t n, const TimeMap& map, bool sgm = false);
// Beta(alpha, beta) quantiles of the table index; repeated indices are dropped, so it may return
// fewer than n + 1 values.
Sigmas beta(int64_t n, const std::vector<double>& table, double alpha = 0.6, double beta = 0.6);

// Uniform in sigma: linspace(sigma_max, sigma_min, n), then 0.
Sigmas uniform(int64_t n, double sigma_min, double sigma_max);

// Align Your Steps published 10-step tables (11 values) for "SD1", "SDXL", "SVD".
const std::vector<double>& ays_table(const std::string& model_type);
// Log-linear resampling of a descending list (no zeros) to n values, as AYS's loglinear_interp.
std::vector<double> loglinear_interp(const std::vector<double>& descending, int64_t n);
// AYS-like schedule for any model: the SD1 table's normalised log-sigma positions mapped onto
// [sigma_min, sigma_max], log-linearly resampled to n values, then 0.
Sigmas ays_like(int64_t n, double sigma_min, double sigma_max);
// AlignYourStepsScheduler: steps, denoise (the table rule: last round(steps*denoise) steps).
Sigmas align_your_steps(const std::string& model_type, int64_t steps, double denoise);

// Checks used by every schedule node: n >= 1, 0 < sigma_min < sigma_max, finite.
void check_range(int64_t n, double sigma_min, double sigma_max);

}  // namespace sf::schedules
