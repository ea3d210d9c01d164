// euler, heun and dpm_2: single-step ODE samplers with optional EDM churn.
#include <ATen/ATen.h>

#include <cmath>

#include "sigmaflow/diffusion/samplers.h"

namespace sf::diffusion::samplers {

namespace {
int64_t steps_of(const std::vector<double>& s) { return static_cast<int64_t>(s.size()) - 1; }
}  // namespace

// k-diffusion sample_euler (Karras et al. 2022, Algorithm 2 with churn).
at::Tensor euler(SamplerRun& run, at::Tensor x, const std::vector<double>& s, const SamplerSettings& o) {
  for (int64_t i = 0; i < steps_of(s); ++i) {
    double sn = s[static_cast<size_t>(i + 1)];
    double sh = churn(run, x, s, i, o);
    at::Tensor den = run.denoise(x, sh);
    x = sn == 0 ? den : x + derivative(x, sh, den) * (sn - sh);
    run.step_done(i);
  }
  return x;
}

// k-diffusion sample_heun: Euler predictor, trapezoidal corrector; plain Euler into 0.
at::Tensor heun(SamplerRun& run, at::Tensor x, const std::vector<double>& s, const SamplerSettings& o) {
  for (int64_t i = 0; i < steps_of(s); ++i) {
    double sn = s[static_cast<size_t>(i + 1)];
    double sh = churn(run, x, s, i, o);
    at::Tensor den = run.denoise(x, sh);
    if (sn == 0) {
      x = den;
    } else {
      at::Tensor d = derivative(x, sh, den);
      double dt = sn - sh;
      at::Tensor x2 = x + d * dt;
      at::Tensor d2 = derivative(x2, sn, run.denoise(x2, sn));
      x = x + (d + d2) * (dt / 2);
    }
    run.step_done(i);
  }
  return x;
}

// k-diffusion sample_dpm_2: the midpoint in log sigma; Euler into 0.
at::Tensor dpm_2(SamplerRun& run, at::Tensor x, const std::vector<double>& s, const SamplerSettings& o) {
  for (int64_t i = 0; i < steps_of(s); ++i) {
    double sn = s[static_cast<size_t>(i + 1)];
    double sh = churn(run, x, s, i, o);
    at::Tensor den = run.denoise(x, sh);
    if (sn == 0) {
      x = den;
    } else {
      at::Tensor d = derivative(x, sh, den);
      double mid = std::exp((std::log(sh) + std::log(sn)) / 2);
      at::Tensor x2 = x + d * (mid - sh);
      at::Tensor d2 = derivative(x2, mid, run.denoise(x2, mid));
      x = x + d2 * (sn - sh);
    }
    run.step_done(i);
  }
  return x;
}

}  // namespace sf::diffusion::samplers
