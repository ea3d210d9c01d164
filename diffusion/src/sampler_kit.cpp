#include "sigmaflow/diffusion/sampler_kit.h"

#include <ATen/ATen.h>

#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "sigmaflow/diffusion/noise.h"
#include "sigmaflow/status.h"

namespace sf::diffusion {

SamplerRun::SamplerRun(const Model& model, SampleContext& ctx, const std::vector<double>& sigmas, bool locate)
    : model_(model),
      ctx_(ctx),
      gen_(cpu_generator(ctx.seed + 1)),
      locate_(locate),
      steps_(sigmas.size() < 2 ? 0 : static_cast<int64_t>(sigmas.size()) - 1) {}

at::Tensor SamplerRun::denoise(const at::Tensor& x, double sigma) {
  ctx_.nfe += model_.evaluations_per_call();
  at::Tensor d = model_.denoise(x, sigma);
  if (locate_ && !at::isfinite(d).all().item<bool>()) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "the model returned NaN or Inf at sigma = %.6g (model evaluation %lld)", sigma,
                  static_cast<long long>(ctx_.nfe));
    throw std::runtime_error(buf);
  }
  ctx_.denoised = d;
  return d;
}

at::Tensor SamplerRun::noise(const at::Tensor& like) {
  const SampleSharding* shard = find_extension<SampleSharding>(ctx_);
  if (shard && extension_covers(*shard, shard->global_rows) && shard->global_rows > like.size(0)) {
    // A shard of a bigger batch: the whole batch's noise, this shard's rows.
    std::vector<int64_t> shape = like.sizes().vec();
    shape[0] = shard->global_rows;
    return normal_like(gen_, shape, like.device(), like.scalar_type()).narrow(0, shard->row_offset, like.size(0));
  }
  return normal_like(gen_, like.sizes(), like.device(), like.scalar_type());
}

void SamplerRun::step_done(int64_t i) {
  if (ctx_.progress) ctx_.progress(i + 1, steps_);
  if (ctx_.interrupt && ctx_.interrupt->load(std::memory_order_relaxed)) throw Interrupted();
}

at::Tensor derivative(const at::Tensor& x, double sigma, const at::Tensor& denoised) { return (x - denoised) / sigma; }

std::pair<double, double> ancestral_step(double from, double to, double eta) {
  if (eta == 0) return {to, 0.0};
  double up = std::min(to, eta * std::sqrt(to * to * (from * from - to * to) / (from * from)));
  double down = std::sqrt(to * to - up * up);
  return {down, up};
}

int64_t last_positive_step(const std::vector<double>& s) {
  for (int64_t i = static_cast<int64_t>(s.size()) - 2; i >= 0; --i)
    if (s[static_cast<size_t>(i + 1)] > 0) return i;
  return -1;
}

int order_cap(const std::vector<double>& s, int64_t i, LowerOrderFinal rule) {
  const int64_t n = static_cast<int64_t>(s.size()) - 1;
  const bool on = rule == LowerOrderFinal::kOn || (rule == LowerOrderFinal::kAuto && n < 15);
  if (!on) return 1 << 20;
  const int64_t last = last_positive_step(s);
  if (i == last) return 1;
  if (i == last - 1) return 2;
  return 1 << 20;
}

double churn(SamplerRun& run, at::Tensor& x, const std::vector<double>& s, int64_t i, const SamplerSettings& o) {
  double sigma = s[static_cast<size_t>(i)];
  double gamma = 0;
  if (o.s_churn > 0 && o.s_tmin <= sigma && sigma <= o.s_tmax)
    gamma = std::min(o.s_churn / static_cast<double>(run.steps()), std::sqrt(2.0) - 1);
  double sigma_hat = sigma * (gamma + 1);
  if (gamma > 0) x = x + run.noise(x) * o.s_noise * std::sqrt(sigma_hat * sigma_hat - sigma * sigma);
  return sigma_hat;
}

at::Tensor run_located(SamplerFn fn, const SamplerSettings& settings, const Model& model, at::Tensor x,
                       const std::vector<double>& s, SampleContext& ctx) {
  if (s.size() < 2) return x;
  at::Tensor start = x;
  SamplerRun run(model, ctx, s);
  at::Tensor out = fn(run, std::move(x), s, settings);
  if (!at::isfinite(out).all().item<bool>()) {
    SampleContext again;  // the same noise: the same seed and extensions (sharding included)
    again.seed = ctx.seed;
    again.extensions = ctx.extensions;
    SamplerRun replay(model, again, s, true);
    fn(replay, start, s, settings);  // throws naming the sigma
    throw std::runtime_error("the sampler produced NaN or Inf values (the model's outputs were finite)");
  }
  return out;
}

}  // namespace sf::diffusion
