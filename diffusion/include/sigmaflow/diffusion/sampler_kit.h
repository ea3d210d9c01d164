// The sampler authoring kit: what every k-diffusion-style sampler needs, shared by the stock
// samplers and exported in the SDK for plugin samplers (docs/writing-nodes.md, "Writing a
// sampler"). A sampler is one function over (run, x, sigmas, settings):
//
//   at::Tensor my_euler(SamplerRun& run, at::Tensor x, const std::vector<double>& s,
//                       const SamplerSettings&) {
//     for (int64_t i = 0; i + 1 < static_cast<int64_t>(s.size()); ++i) {
//       at::Tensor den = run.denoise(x, s[i]);
//       x = steps_into_zero(s, i) ? den : x + derivative(x, s[i], den) * (s[i + 1] - s[i]);
//       run.step_done(i);
//     }
//     return x;
//   }
//
// Conventions (conventions.md §5): sigmas are host doubles; the step into sigma = 0 returns the
// denoised estimate; per-step noise comes from the CPU generator seeded with seed + 1.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "sigmaflow/model.h"
#include "sigmaflow/sampler.h"

namespace sf::diffusion {

// One run of a sampler. Not thread-safe; one instance per run.
class SamplerRun {
 public:
  // `locate_non_finite`: check every model output and throw naming the sigma of the first NaN or
  // Inf (used to replay a failed run; off by default, as it costs a device sync per call).
  SamplerRun(const Model& model, SampleContext& ctx, const std::vector<double>& sigmas, bool locate_non_finite = false);
  // D(x, sigma): counts the model's evaluations_per_call() (2 under CFG) and keeps the result as
  // the last denoised estimate.
  at::Tensor denoise(const at::Tensor& x, double sigma);
  // Per-step noise shaped like `like` (CPU float32 from seed + 1, moved to like's device/dtype).
  at::Tensor noise(const at::Tensor& like);
  // After step i: reports progress (i + 1 of the run's steps); throws sf::Interrupted when the
  // run is being interrupted.
  void step_done(int64_t i);
  int64_t steps() const { return steps_; }

 private:
  const Model& model_;
  SampleContext& ctx_;
  at::Generator gen_;
  bool locate_;
  int64_t steps_;
};

// k-diffusion's to_d: the probability-flow ODE derivative dx/dsigma = (x - D) / sigma.
at::Tensor derivative(const at::Tensor& x, double sigma, const at::Tensor& denoised);
// k-diffusion's get_ancestral_step: (sigma_down, sigma_up) for a step from `from` to `to`.
std::pair<double, double> ancestral_step(double from, double to, double eta);
// The final-step rule: step i goes into sigma = 0, where samplers return the denoised estimate.
inline bool steps_into_zero(const std::vector<double>& s, int64_t i) { return s[static_cast<size_t>(i + 1)] == 0; }
// The index of the last step whose target sigma is > 0, or -1.
int64_t last_positive_step(const std::vector<double>& s);
// The lower_order_final rule: the highest order a multistep sampler may use at step i (1 on the
// last step into a positive sigma, 2 on the one before, unbounded otherwise or when off).
int order_cap(const std::vector<double>& s, int64_t i, LowerOrderFinal rule);
// EDM churn (Karras et al. 2022, Algorithm 2): raises sigma_i by gamma = min(s_churn / N,
// sqrt2 - 1) inside [s_tmin, s_tmax] with fresh noise; returns sigma_hat.
double churn(SamplerRun& run, at::Tensor& x, const std::vector<double>& s, int64_t i, const SamplerSettings& o);

// The step loop every sampler shares: x = step(x, i, sigma_i, sigma_i+1) for each step, then
// step_done(i). `step` is a callable (at::Tensor, int64_t, double, double) -> at::Tensor.
template <class Step>
at::Tensor for_each_step(SamplerRun& run, at::Tensor x, const std::vector<double>& s, Step&& step) {
  for (int64_t i = 0; i + 1 < static_cast<int64_t>(s.size()); ++i) {
    x = step(std::move(x), i, s[static_cast<size_t>(i)], s[static_cast<size_t>(i + 1)]);
    run.step_done(i);
  }
  return x;
}

using SamplerFn = at::Tensor (*)(SamplerRun& run, at::Tensor x, const std::vector<double>& sigmas,
                                 const SamplerSettings& settings);
// Runs `fn` over the sigmas; if the final state is not finite, replays the (deterministic) run
// checking every model output, and throws naming the sigma where NaN or Inf first appeared.
at::Tensor run_located(SamplerFn fn, const SamplerSettings& settings, const Model& model, at::Tensor x,
                       const std::vector<double>& sigmas, SampleContext& ctx);

}  // namespace sf::diffusion
