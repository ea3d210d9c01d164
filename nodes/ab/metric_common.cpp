#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cmath>

#include "nodes.h"
#include "sigmaflow/diffusion/bootstrap.h"
#include "sigmaflow/diffusion/memory.h"

namespace sf::nodes {

std::shared_ptr<Metric> make_metric(const std::string& name, double value, const std::string& computed_on,
                                    const Latent& s, bool lower_is_better) {
  auto m = std::make_shared<Metric>();
  m->name = name;
  m->value = value;
  m->lower_is_better = lower_is_better;
  m->computed_on = computed_on;
  m->nfe = s.nfe;
  m->steps = s.steps;
  m->wall_seconds = s.wall_seconds;
  m->sampler = s.sampler;
  return m;
}

void annotate_particle_interval(Metric& metric, const at::Tensor& per_particle, OfMean f) {
  constexpr int64_t kResamples = 1000;
  constexpr uint64_t kBootstrapSeed = 0;
  at::Tensor v = per_particle.to(at::kCPU, at::kDouble).contiguous().reshape({-1});
  const int64_t n = v.numel();
  if (n == 0) return;
  const double* x = v.data_ptr<double>();
  auto of_mean = [f](double mean) { return f == OfMean::kSqrt ? std::sqrt(std::max(0.0, mean)) : mean; };
  std::vector<double> replicates(static_cast<size_t>(kResamples));
  at::parallel_for(0, kResamples, 1, [&](int64_t first, int64_t last) {
    for (int64_t b = first; b < last; ++b) {
      const std::vector<uint32_t> counts = diffusion::bootstrap_counts(n, kBootstrapSeed, b);
      double sum = 0;
      for (int64_t i = 0; i < n; ++i) sum += counts[static_cast<size_t>(i)] * x[i];
      replicates[static_cast<size_t>(b)] = of_mean(sum / static_cast<double>(n));
    }
  });
  // A monotone f of a mean: the particles' influence is proportional to x_i - mean.
  const double acceleration = diffusion::bca_acceleration(x, n);
  const diffusion::Interval i = diffusion::bca_interval(std::move(replicates), metric.value, acceleration);
  metric.annotations[metric_keys::kIntervalLow] = i.lo;
  metric.annotations[metric_keys::kIntervalHigh] = i.hi;
  metric.annotations[metric_keys::kAcceleration] = acceleration;
  metric.annotations[metric_keys::kParticles] = static_cast<double>(n);
}

const ExactDensity& exact_of(const Model& model, const std::string& input) {
  const ExactDensity* e = model.exact();
  if (!e) throw InputError(input, model.describe(), "this model has no exact density (it needs a mixture model)");
  return *e;
}

void check_projection_memory(int64_t rows, int64_t dims, int64_t projections) {
  uint64_t bytes = 0;
  if (!diffusion::checked_bytes({rows + dims, projections}, 8, bytes))
    throw InputError("projections", std::to_string(projections),
                     "the projections of " + std::to_string(rows) + " samples do not fit in memory");
  Status st =
      diffusion::check_allocation(bytes,
                                  "sliced W2 over " + std::to_string(rows) + " samples of " + std::to_string(dims) +
                                      " values x " + std::to_string(projections) + " projections",
                                  3.0);
  if (!st.ok()) throw InputError("projections", std::to_string(projections), st.message(), st.code());
}

void check_usable_samples(const Latent& samples, const std::string& input) {
  const at::Tensor& x = samples.samples();
  if (x.dim() < 1 || x.size(0) == 0) throw InputError(input, c10::str(x.sizes()), "the batch is empty");
  const int64_t bad = x.numel() - x.isfinite().sum().item<int64_t>();
  if (bad > 0) {
    const int64_t rows = x.reshape({x.size(0), -1}).isfinite().all(1).logical_not().sum().item<int64_t>();
    throw InputError(input, c10::str(x.sizes()),
                     std::to_string(rows) + " of " + std::to_string(x.size(0)) +
                         " samples contain NaN or Inf; a metric over them is meaningless (check the sampler's "
                         "output: a diverging schedule or model)");
  }
}

void check_same_sample_shape(const Latent& a, const std::string& an, const Latent& b, const std::string& bn) {
  const at::Tensor &x = a.samples(), &y = b.samples();
  check_usable_samples(a, an);
  check_usable_samples(b, bn);
  if (x.sizes().slice(1) != y.sizes().slice(1))
    throw InputError(bn, c10::str(y.sizes()),
                     "sample shape " + c10::str(y.sizes().slice(1)) + " does not match " + an + "'s " +
                         c10::str(x.sizes().slice(1)));
}

}  // namespace sf::nodes
