#include "sigmaflow/scheduler/optimal_steps/reference.h"

#include <ATen/ATen.h>

#include <cmath>
#include <stdexcept>

#include "sigmaflow/scheduler/score_optimal/schedule_fit.h"
#include "sigmaflow/status.h"

namespace sf::oss {

namespace {
at::Tensor checked(const Denoiser& denoise, const at::Tensor& x, double sigma) {
  at::Tensor d = denoise(x, sigma);
  if (!d.isfinite().all().item<bool>())
    throw InputError(
        "model", "",
        "the model returned NaN or Inf at sigma = " + std::to_string(sigma) + " while integrating the reference ODE");
  return d;
}
}  // namespace

std::vector<double> log_uniform_grid(double sigma_min, double sigma_max, int64_t intervals) {
  std::vector<double> g(static_cast<size_t>(intervals + 1));
  const double a = std::log(sigma_max), b = std::log(sigma_min);
  for (int64_t k = 0; k <= intervals; ++k)
    g[static_cast<size_t>(k)] = std::exp(a + (b - a) * static_cast<double>(k) / static_cast<double>(intervals));
  g.front() = sigma_max;
  g.back() = sigma_min;
  return g;
}

std::vector<double> cost_grid(const so::CostCurve& curve, int64_t intervals, double log_share) {
  const size_t t = curve.cost.size();
  so::FitOptions raw;
  std::vector<double> lambda = so::cumulative_length(so::effective_costs(curve, raw));
  const double total_log = std::log(curve.grid.front() / curve.grid.back());
  // fit_schedule spaces points at equal sum of sqrt(cost); hand it the squared blended lengths.
  so::CostCurve blended;
  blended.grid = curve.grid;
  blended.dim = curve.dim;
  blended.cost.resize(t);
  for (size_t i = 0; i < t; ++i) {
    double corrector = (lambda[i + 1] - lambda[i]) / lambda.back();
    double logpart = std::log(curve.grid[i] / curve.grid[i + 1]) / total_log;
    double len = (1 - log_share) * corrector + log_share * logpart;
    blended.cost[i] = len * len;
  }
  return so::fit_schedule(blended, intervals, raw);
}

Reference integrate_reference(const Denoiser& denoise, std::vector<double> grid, const at::Tensor& noise,
                              int64_t substeps, const std::atomic<bool>* interrupt,
                              const std::function<void(int64_t, int64_t)>& progress) {
  const int64_t K = static_cast<int64_t>(grid.size()) - 1;
  Reference ref;
  std::vector<int64_t> shape{K + 1};
  for (int64_t s : noise.sizes()) shape.push_back(s);
  ref.x = at::empty(shape, noise.options().dtype(at::kDouble));
  at::Tensor x = noise.to(at::kDouble) * grid[0];
  ref.x[0].copy_(x);
  for (int64_t k = 0; k < K; ++k) {
    if (interrupt && interrupt->load()) throw Interrupted();
    const double a = std::log(grid[static_cast<size_t>(k)]), b = std::log(grid[static_cast<size_t>(k + 1)]);
    for (int64_t q = 0; q < substeps; ++q) {
      double s = std::exp(a + (b - a) * static_cast<double>(q) / static_cast<double>(substeps));
      double sn = q + 1 == substeps
                      ? grid[static_cast<size_t>(k + 1)]
                      : std::exp(a + (b - a) * static_cast<double>(q + 1) / static_cast<double>(substeps));
      at::Tensor d = (x - checked(denoise, x, s)) / s;  // k-diffusion sample_heun, no churn
      at::Tensor x2 = x + d * (sn - s);
      at::Tensor d2 = (x2 - checked(denoise, x2, sn)) / sn;
      x = x + (d + d2) * ((sn - s) / 2);
      ref.nfe += 2 * noise.size(0);
    }
    ref.x[k + 1].copy_(x);
    if (progress) progress(k + 1, K);
  }
  ref.final = checked(denoise, x, grid.back()).to(at::kDouble);
  ref.nfe += noise.size(0);
  ref.grid = std::move(grid);
  return ref;
}

}  // namespace sf::oss
