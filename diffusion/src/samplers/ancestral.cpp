// Ancestral samplers: each step goes down to sigma_down deterministically, then adds fresh noise
// of size sigma_up (eta = 0 makes them deterministic).
#include <ATen/ATen.h>

#include <cmath>

#include "sigmaflow/diffusion/samplers.h"

namespace sf::diffusion::samplers {

namespace {
int64_t steps_of(const std::vector<double>& s) { return static_cast<int64_t>(s.size()) - 1; }
// The noise half of an ancestral step.
void add_ancestral_noise(SamplerRun& run, at::Tensor& x, double sn, double up, const SamplerSettings& o) {
  if (sn > 0 && up > 0) x = x + run.noise(x) * (o.s_noise * up);
}
}  // namespace

// k-diffusion sample_euler_ancestral.
at::Tensor euler_ancestral(SamplerRun& run, at::Tensor x, const std::vector<double>& s, const SamplerSettings& o) {
  for (int64_t i = 0; i < steps_of(s); ++i) {
    double si = s[static_cast<size_t>(i)], sn = s[static_cast<size_t>(i + 1)];
    at::Tensor den = run.denoise(x, si);
    auto [down, up] = ancestral_step(si, sn, o.eta);
    x = down == 0 ? den : x + derivative(x, si, den) * (down - si);
    add_ancestral_noise(run, x, sn, up, o);
    run.step_done(i);
  }
  return x;
}

// k-diffusion sample_dpm_2_ancestral: the dpm_2 midpoint step down to sigma_down.
at::Tensor dpm_2_ancestral(SamplerRun& run, at::Tensor x, const std::vector<double>& s, const SamplerSettings& o) {
  for (int64_t i = 0; i < steps_of(s); ++i) {
    double si = s[static_cast<size_t>(i)], sn = s[static_cast<size_t>(i + 1)];
    at::Tensor den = run.denoise(x, si);
    auto [down, up] = ancestral_step(si, sn, o.eta);
    if (down == 0) {
      x = den;
    } else {
      double mid = std::exp((std::log(si) + std::log(down)) / 2);
      at::Tensor x2 = x + derivative(x, si, den) * (mid - si);
      at::Tensor d2 = derivative(x2, mid, run.denoise(x2, mid));
      x = x + d2 * (down - si);
    }
    add_ancestral_noise(run, x, sn, up, o);
    run.step_done(i);
  }
  return x;
}

// k-diffusion sample_dpmpp_2s_ancestral: DPM-Solver++(2S) in t = -ln sigma, down to sigma_down.
at::Tensor dpmpp_2s_ancestral(SamplerRun& run, at::Tensor x, const std::vector<double>& s, const SamplerSettings& o) {
  for (int64_t i = 0; i < steps_of(s); ++i) {
    double si = s[static_cast<size_t>(i)], sn = s[static_cast<size_t>(i + 1)];
    at::Tensor den = run.denoise(x, si);
    auto [down, up] = ancestral_step(si, sn, o.eta);
    if (down == 0) {
      x = den;
    } else {
      double t = -std::log(si), t_next = -std::log(down), h = t_next - t, sm = t + 0.5 * h;
      double sigma_s = std::exp(-sm);
      at::Tensor x2 = (sigma_s / si) * x - std::expm1(-h * 0.5) * den;
      at::Tensor den2 = run.denoise(x2, sigma_s);
      x = (down / si) * x - std::expm1(-h) * den2;
    }
    add_ancestral_noise(run, x, sn, up, o);
    run.step_done(i);
  }
  return x;
}

}  // namespace sf::diffusion::samplers
