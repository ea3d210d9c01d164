#include "sigmaflow/scheduler/optimal_steps/step_forms.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "sigmaflow/diffusion/gaussian_mixture.h"
#include "sigmaflow/diffusion/noise.h"
#include "sigmaflow/diffusion/samplers.h"
#include "sigmaflow/status.h"

namespace sf::oss {

namespace {

// The check's tolerance on max |sampler - form| relative to the state's scale (>= 1): float64
// round-off of the same algebra written two ways stays far below it.
constexpr double kTolerance = 1e-9;

std::string who(const Sampler& sampler) {
  return "sampler '" + sampler.name() + "'" +
         (sampler.provider().empty() ? std::string() : " (plugin " + sampler.provider() + ")");
}

// A [1, 1, ...] float64 tensor holding v, broadcastable against [1, M, ...] (the DP's targets).
at::Tensor per_target(double v, int64_t state_dims) {
  return at::full(std::vector<int64_t>(static_cast<size_t>(state_dims + 1), 1), v, at::kDouble);
}

at::Tensor step(const Denoiser& denoise, const StepForm& form, const at::Tensor& x, const at::Tensor& den,
                const std::vector<at::Tensor>& hist, const std::vector<double>& past, double si, double sj) {
  if (form.two_evaluations()) {
    const double sp = form.probe_sigma(si, sj);
    if (!(sp > 0) || !std::isfinite(sp))
      throw std::runtime_error("its probe_sigma(" + number_text(si) + ", " + number_text(sj) + ") is " +
                               number_text(sp) + ", not a positive sigma");
    at::Tensor probe = x + (x - den) * ((sp - si) / si);
    at::Tensor next = form.finish(x, den, si, probe.unsqueeze(0), denoise(probe, sp).unsqueeze(0),
                                  per_target(sj, x.dim()), per_target(sp, x.dim()));
    if (!next.defined() || next.sizes() != probe.unsqueeze(0).sizes())
      throw std::runtime_error("its finish() returned " +
                               (next.defined() ? "shape " + c10::str(next.sizes()) : std::string("no tensor")) +
                               " for one target (expected " + c10::str(probe.unsqueeze(0).sizes()) + ")");
    return next.squeeze(0);
  }
  auto c = form.coefficients(si, sj, past);
  if (c.size() != 2 + hist.size())
    throw std::runtime_error("its coefficients() returned " + std::to_string(c.size()) + " values for a state with " +
                             std::to_string(hist.size()) + " history items (expected " +
                             std::to_string(2 + hist.size()) + ")");
  at::Tensor next = c[0] * x + c[1] * den;
  for (size_t q = 0; q < hist.size(); ++q) next = next + c[q + 2] * hist[q];
  return next;
}

}  // namespace

at::Tensor walk_step_form(const Denoiser& denoise, const StepForm& form, at::Tensor x,
                          const std::vector<double>& path) {
  std::vector<at::Tensor> hist;  // most recent first
  std::vector<double> past;
  const auto capacity = static_cast<size_t>(std::max(0, form.history_capacity()));
  for (size_t k = 0; k + 1 < path.size(); ++k) {
    const double si = path[k], sj = path[k + 1];
    at::Tensor den = denoise(x, si);
    at::Tensor next = step(denoise, form, x, den, hist, past, si, sj);
    if (capacity > 0) {
      hist.insert(hist.begin(), form.history_item(x, den, si));
      past.insert(past.begin(), si);
      if (hist.size() > capacity) {
        hist.pop_back();
        past.pop_back();
      }
    }
    x = next;
  }
  return x;
}

std::string samplers_with_step_forms() {
  std::string list;
  for (const auto& e : diffusion::sampler_table())
    if (e.step_form) list += (list.empty() ? "" : ", ") + std::string(e.name);
  return list;
}

std::shared_ptr<const StepForm> checked_step_form(const Sampler& sampler) {
  Result<std::shared_ptr<const StepForm>> form = sampler.step_form();
  if (!form.ok()) {
    const Status& st = form.status();
    throw InputError("sampler", sampler.name() + (st.input().empty() ? "" : " (" + st.input() + " " + st.value() + ")"),
                     "optimal_steps cannot optimise " + who(sampler) + " with these settings: " + st.message());
  }
  if (!*form)
    throw InputError(
        "sampler", sampler.name(),
        "optimal_steps cannot optimise " + who(sampler) + ": it offers no step form (sf::Sampler::step_form(), the " +
            (sampler.traits().stochastic ? std::string("algebra of a deterministic step; this sampler is stochastic")
                                         : std::string("step algebra the optimiser evaluates")) +
            "); samplers with one: " + samplers_with_step_forms() + ", and plugin samplers that offer one");
  // An uneven path (step ratios change from step to step, so multistep weights do) on ring8.
  const std::vector<double> path = {80.0, 31.0, 9.0, 4.1, 1.3, 0.7, 0.21, 0.09, 0.03};
  double diff = 0, scale = 1;
  try {
    diffusion::GaussianMixture model(diffusion::mixture_preset("ring8"), 0.002, 80.0, c10::Device(c10::kCPU),
                                     at::kDouble);
    at::Tensor x = diffusion::seeded_normal(5, {16, 2}, c10::Device(c10::kCPU), at::kDouble) * path[0];
    SampleContext ctx;
    at::Tensor want = sampler.sample(model, x, path, ctx);
    Denoiser denoise = [&model](const at::Tensor& y, const NoiseLevels& s) { return model.denoise(y, s); };
    at::Tensor got = walk_step_form(denoise, **form, x, path);
    diff = (want - got).abs().max().item<double>();
    scale = std::max(1.0, want.abs().max().item<double>());
  } catch (const Interrupted&) {
    throw;
  } catch (const std::exception& e) {
    throw InputError("sampler", sampler.name(),
                     "optimal_steps refuses the step form of " + who(sampler) +
                         ": checking it against the sampler failed: " + e.what());
  }
  if (!(diff <= kTolerance * scale))
    throw InputError("sampler", sampler.name(),
                     "optimal_steps refuses the step form of " + who(sampler) +
                         ": it does not reproduce the sampler (max difference " + number_text(diff, 3) +
                         " after 8 steps of an uneven path of the ring8 mixture in float64; allowed " +
                         number_text(kTolerance * scale, 3) + ")");
  return *form;
}

}  // namespace sf::oss
