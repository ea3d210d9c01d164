#include "sigmaflow/diffusion/model_metrics.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>
#include <stdexcept>
#include <tuple>

#include "sigmaflow/diffusion/noise.h"
#include "sigmaflow/diffusion/row_blocks.h"
#include "sigmaflow/diffusion/training.h"

namespace sf::diffusion {

ScoreErrorResult score_error(const Model& model, const Model& reference, int64_t n, int64_t bands, double smin,
                             double smax, uint64_t seed, const Collectives* group, const ProgressFn& progress) {
  const ExactDensity* exact = reference.exact();
  if (!exact) throw std::invalid_argument("the reference model has no exact density");
  if (n < 1 || bands < 1 || !(smin > 0) || !(smin < smax)) throw std::invalid_argument("bad score-error settings");
  at::NoGradGuard no_grad;
  at::Tensor x0 = exact->sample_data(n, seed).to(at::kCPU, at::kDouble);
  ScoreErrorResult r;
  r.sigma_data = x0.std().item<double>();
  at::Generator gen = cpu_generator(seed + 1);
  const double lo = std::log(smin), width = (std::log(smax) - lo) / static_cast<double>(bands);
  double weighted_sum = 0.0;
  const int64_t d = x0.numel() / n;
  for (int64_t b = 0; b < bands; ++b) {
    throw_if_interrupted();
    at::Tensor u = at::rand({n}, gen, at::kDouble).contiguous();
    const double* up = u.data_ptr<double>();
    std::vector<double> sigma(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
      sigma[static_cast<size_t>(i)] = std::exp(lo + width * (static_cast<double>(b) + up[i]));
    at::Tensor noise = at::randn(x0.sizes(), gen, at::kDouble);
    std::vector<int64_t> view(static_cast<size_t>(x0.dim()), 1);
    view[0] = n;
    at::Tensor x = x0 + noise * at::tensor(sigma, at::kDouble).view(view);
    // Model calls on chunks of about a million values: an interrupt is seen within one chunk (one
    // call on 4M samples took 3.3 s), and memory stays bounded.
    const int64_t chunk = std::max<int64_t>(1, (int64_t{1} << 20) / std::max<int64_t>(1, d));
    at::Tensor err = rows_gathered(group, n, [&](int64_t begin, int64_t end) {
      std::vector<at::Tensor> parts;
      for (int64_t c0 = begin; c0 < end; c0 += chunk) {
        const int64_t c1 = std::min(end, c0 + chunk);
        NoiseLevels levels(std::vector<double>(sigma.begin() + c0, sigma.begin() + c1));
        at::Tensor xs = x.narrow(0, c0, c1 - c0);
        at::Tensor dm = model.denoise(xs.to(model.device(), model.dtype()), levels).to(at::kCPU, at::kDouble);
        at::Tensor dr =
            reference.denoise(xs.to(reference.device(), reference.dtype()), levels).to(at::kCPU, at::kDouble);
        parts.push_back((dm - dr).square().reshape({c1 - c0, -1}).sum(1) / static_cast<double>(d));
      }
      return at::cat(parts);
    });
    r.band_lo.push_back(std::exp(lo + width * static_cast<double>(b)));
    r.band_hi.push_back(std::exp(lo + width * static_cast<double>(b + 1)));
    r.band_error.push_back(err.mean().item<double>());
    err = err.contiguous();
    const double* ep = err.data_ptr<double>();
    for (int64_t i = 0; i < n; ++i)
      weighted_sum += edm_loss_weight(sigma[static_cast<size_t>(i)], r.sigma_data) * ep[i];
    if (progress) progress(b + 1, bands);
  }
  r.weighted = weighted_sum / static_cast<double>(n * bands);
  return r;
}

namespace {

// (x - D(x, sigma)) and the exact trace of dD/dx per row, float64.
std::pair<at::Tensor, at::Tensor> drift_and_trace(const Model& model, const at::Tensor& x, double sigma) {
  at::Tensor xin = x.detach().to(model.device(), model.dtype()).requires_grad_(true);
  at::Tensor d = model.denoise(xin, sigma);
  at::Tensor flat = d.reshape({d.size(0), -1});
  const int64_t dim = flat.size(1);
  at::Tensor trace = at::zeros({x.size(0)}, at::kDouble);
  for (int64_t i = 0; i < dim; ++i) {
    auto g = torch::autograd::grad({flat.select(1, i).sum()}, {xin}, {}, /*retain_graph=*/i + 1 < dim);
    trace += g[0].reshape({x.size(0), -1}).select(1, i).to(at::kCPU, at::kDouble);
  }
  return {x - d.detach().to(at::kCPU, at::kDouble), trace};
}

}  // namespace

at::Tensor ode_log_likelihood(const Model& model, const at::Tensor& x_in, int64_t steps, double smin, double smax,
                              int64_t max_dim, const ProgressFn& progress) {
  if (steps < 1 || !(smin > 0) || !(smin < smax)) throw std::invalid_argument("bad likelihood settings");
  at::Tensor x = x_in.to(at::kCPU, at::kDouble);
  const int64_t n = x.size(0), d = x.numel() / std::max<int64_t>(n, 1);
  if (d > max_dim)
    throw InputError("model", c10::str(model.sample_shape()),
                     "the exact divergence needs one backward pass per dimension; dimension " + std::to_string(d) +
                         " is above the limit of " + std::to_string(max_dim));
  at::AutoGradMode grad(true);
  const double h = (std::log(smax) - std::log(smin)) / static_cast<double>(steps);
  at::Tensor delta = at::zeros({n}, at::kDouble);
  const double dd = static_cast<double>(d);
  for (int64_t k = 0; k < steps; ++k) {
    const double s0 = std::exp(std::log(smin) + h * static_cast<double>(k));
    const double s1 = k + 1 == steps ? smax : std::exp(std::log(smin) + h * static_cast<double>(k + 1));
    auto [f0, t0] = drift_and_trace(model, x, s0);
    at::Tensor xe = x + h * f0;
    auto [f1, t1] = drift_and_trace(model, xe, s1);
    x = x + 0.5 * h * (f0 + f1);
    delta += 0.5 * h * ((dd - t0) + (dd - t1));
    if (progress) progress(k + 1, steps);
  }
  at::Tensor flat = x.reshape({n, -1});
  at::Tensor prior = -0.5 * flat.square().sum(1) / (smax * smax) - 0.5 * dd * std::log(2 * M_PI * smax * smax);
  return prior + delta;
}

}  // namespace sf::diffusion
