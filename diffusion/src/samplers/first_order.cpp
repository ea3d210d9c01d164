// euler, heun and dpm_2: single-step ODE samplers with optional EDM churn. Each step raises sigma
// by the churn, denoises there, and returns the denoised estimate when it goes into 0.
#include <ATen/ATen.h>

#include <cmath>

#include "sigmaflow/diffusion/samplers.h"

namespace sf::diffusion::samplers {

namespace {
// The churn, the model call and the final-step rule around `update(x, sigma_hat, next, den)`.
template <class Update>
at::Tensor churned_steps(SamplerRun& run, at::Tensor x, const std::vector<double>& s, const SamplerSettings& o,
                         Update&& update) {
  return for_each_step(run, std::move(x), s, [&](at::Tensor x, int64_t i, double, double sn) {
    double sh = churn(run, x, s, i, o);
    at::Tensor den = run.denoise(x, sh);
    return sn == 0 ? den : update(x, sh, sn, den);
  });
}
}  // namespace

// k-diffusion sample_euler (Karras et al. 2022, Algorithm 2 with churn).
at::Tensor euler(SamplerRun& run, at::Tensor x, const std::vector<double>& s, const SamplerSettings& o) {
  return churned_steps(run, std::move(x), s, o, [](const at::Tensor& x, double sh, double sn, const at::Tensor& den) {
    return x + derivative(x, sh, den) * (sn - sh);
  });
}

// k-diffusion sample_heun: Euler predictor, trapezoidal corrector; plain Euler into 0.
at::Tensor heun(SamplerRun& run, at::Tensor x, const std::vector<double>& s, const SamplerSettings& o) {
  return churned_steps(run, std::move(x), s, o, [&](const at::Tensor& x, double sh, double sn, const at::Tensor& den) {
    at::Tensor d = derivative(x, sh, den);
    double dt = sn - sh;
    at::Tensor x2 = x + d * dt;
    at::Tensor d2 = derivative(x2, sn, run.denoise(x2, sn));
    return x + (d + d2) * (dt / 2);
  });
}

// k-diffusion sample_dpm_2: the midpoint in log sigma; Euler into 0.
at::Tensor dpm_2(SamplerRun& run, at::Tensor x, const std::vector<double>& s, const SamplerSettings& o) {
  return churned_steps(run, std::move(x), s, o, [&](const at::Tensor& x, double sh, double sn, const at::Tensor& den) {
    double mid = std::exp((std::log(sh) + std::log(sn)) / 2);
    at::Tensor x2 = x + derivative(x, sh, den) * (mid - sh);
    return x + derivative(x2, mid, run.denoise(x2, mid)) * (sn - sh);
  });
}

}  // namespace sf::diffusion::samplers
