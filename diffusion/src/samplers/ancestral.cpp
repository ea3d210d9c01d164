// Ancestral samplers: each step goes down to sigma_down deterministically, then adds fresh noise
// of size sigma_up (eta = 0 makes them deterministic).
#include <ATen/ATen.h>

#include <cmath>

#include "sigmaflow/diffusion/samplers.h"

namespace sf::diffusion::samplers {

namespace {
// The model call, k-diffusion's get_ancestral_step and the noise half around the deterministic
// `down_step(x, sigma, sigma_down, den)`; a step whose sigma_down is 0 returns the estimate.
template <class DownStep>
at::Tensor ancestral_steps(SamplerRun& run, at::Tensor x, const std::vector<double>& s, const SamplerSettings& o,
                           DownStep&& down_step) {
  return for_each_step(run, std::move(x), s, [&](at::Tensor x, int64_t, double si, double sn) {
    at::Tensor den = run.denoise(x, si);
    auto [down, up] = ancestral_step(si, sn, o.eta);
    x = down == 0 ? den : down_step(x, si, down, den);
    if (sn > 0 && up > 0) x = x + run.noise(x) * (o.s_noise * up);
    return x;
  });
}
}  // namespace

// k-diffusion sample_euler_ancestral.
at::Tensor euler_ancestral(SamplerRun& run, at::Tensor x, const std::vector<double>& s, const SamplerSettings& o) {
  return ancestral_steps(run, std::move(x), s, o,
                         [](const at::Tensor& x, double si, double down, const at::Tensor& den) {
                           return x + derivative(x, si, den) * (down - si);
                         });
}

// k-diffusion sample_dpm_2_ancestral: the dpm_2 midpoint step down to sigma_down.
at::Tensor dpm_2_ancestral(SamplerRun& run, at::Tensor x, const std::vector<double>& s, const SamplerSettings& o) {
  return ancestral_steps(run, std::move(x), s, o,
                         [&](const at::Tensor& x, double si, double down, const at::Tensor& den) {
                           double mid = std::exp((std::log(si) + std::log(down)) / 2);
                           at::Tensor x2 = x + derivative(x, si, den) * (mid - si);
                           return x + derivative(x2, mid, run.denoise(x2, mid)) * (down - si);
                         });
}

// k-diffusion sample_dpmpp_2s_ancestral: DPM-Solver++(2S) in t = -ln sigma, down to sigma_down.
at::Tensor dpmpp_2s_ancestral(SamplerRun& run, at::Tensor x, const std::vector<double>& s, const SamplerSettings& o) {
  return ancestral_steps(run, std::move(x), s, o,
                         [&](const at::Tensor& x, double si, double down, const at::Tensor& den) {
                           double t = -std::log(si), t_next = -std::log(down), h = t_next - t, sm = t + 0.5 * h;
                           double sigma_s = std::exp(-sm);
                           at::Tensor x2 = (sigma_s / si) * x - std::expm1(-h * 0.5) * den;
                           return (down / si) * x - std::expm1(-h) * run.denoise(x2, sigma_s);
                         });
}

}  // namespace sf::diffusion::samplers
