#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cmath>

#include "nodes.h"
#include "sigmaflow/diffusion/bootstrap.h"
#include "sigmaflow/diffusion/memory.h"
#include "sigmaflow/diffusion/metrics.h"
#include "sigmaflow/diffusion/noise.h"

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

namespace {
constexpr int64_t kResamples = 1000;

// Both two-sample statistics are distances (SW^2 and the Frechet distance are >= 0): a linearised
// replicate below 0 counts as 0.
double of_statistic(double statistic, OfMean f) {
  const double d = std::max(0.0, statistic);
  return f == OfMean::kSqrt ? std::sqrt(d) : d;
}

// The two-sample linearised bootstrap's replicates of f(T) and the BCa acceleration of f(T) (each
// particle's influence weighted by 1 / its set's size, as a jackknife would see it; f monotone).
std::vector<double> two_sample_replicates(const diffusion::TwoSampleInfluence& t, OfMean f, double& acceleration) {
  const at::Tensor a = t.of_a.to(at::kDouble).contiguous(), b = t.of_b.to(at::kDouble).contiguous();
  const int64_t n = a.numel(), m = b.numel();
  const double *ia = a.data_ptr<double>(), *ib = b.data_ptr<double>();
  std::vector<double> replicates(static_cast<size_t>(kResamples));
  at::parallel_for(0, kResamples, 1, [&](int64_t first, int64_t last) {
    for (int64_t r = first; r < last; ++r) {
      const std::vector<uint32_t> ca = diffusion::bootstrap_counts(n, 0, r), cb = diffusion::bootstrap_counts(m, 1, r);
      double sa = 0, sb = 0;
      for (int64_t i = 0; i < n; ++i) sa += ca[static_cast<size_t>(i)] * ia[i];
      for (int64_t j = 0; j < m; ++j) sb += cb[static_cast<size_t>(j)] * ib[j];
      replicates[static_cast<size_t>(r)] =
          of_statistic(t.statistic + sa / static_cast<double>(n) + sb / static_cast<double>(m), f);
    }
  });
  std::vector<double> weighted(static_cast<size_t>(n + m));
  for (int64_t i = 0; i < n; ++i) weighted[static_cast<size_t>(i)] = ia[i] / static_cast<double>(n);
  for (int64_t j = 0; j < m; ++j) weighted[static_cast<size_t>(n + j)] = ib[j] / static_cast<double>(m);
  acceleration = diffusion::bca_acceleration(weighted.data(), n + m);
  return replicates;
}
}  // namespace

void annotate_two_sample_interval(Metric& metric, const diffusion::TwoSampleInfluence& t, OfMean f) {
  double acceleration = 0;
  std::vector<double> replicates = two_sample_replicates(t, f, acceleration);
  const diffusion::Interval i = diffusion::bca_interval(std::move(replicates), metric.value, acceleration);
  metric.annotations[metric_keys::kIntervalLow] = i.lo;
  metric.annotations[metric_keys::kIntervalHigh] = i.hi;
  metric.annotations[metric_keys::kAcceleration] = acceleration;
  metric.annotations[metric_keys::kParticles] = static_cast<double>(t.of_a.numel());
}

void annotate_reference_floor(Metric& metric, const at::Tensor& reference, int64_t n, uint64_t seed, OfMean f,
                              const TwoSampleMeasure& measure, const TwoSampleStatistic& statistic) {
  // One split's distance is about as noisy as it is large (a distance near zero): the floor and
  // its scaling are means over kSplits shuffles; the interval is one split's bootstrap interval
  // moved to that mean (so it states one split's uncertainty: wider than the mean's, on purpose).
  constexpr int kSplits = 4;
  const int64_t m = reference.size(0);
  if (m < 64) return;
  at::Generator gen = diffusion::cpu_generator(seed);
  const int64_t half = m / 2, quarter = m / 4;
  double at_half = 0, at_quarter = 0, first = 0;
  diffusion::Interval first_interval{NAN, NAN};
  for (int k = 0; k < kSplits; ++k) {
    const at::Tensor shuffled = reference.index_select(0, at::randperm(m, gen, at::TensorOptions().dtype(at::kLong)));
    const at::Tensor a = shuffled.narrow(0, 0, half), b = shuffled.narrow(0, half, half);
    // The first split also gives the interval: its influence computation carries the statistic.
    if (k == 0) {
      const diffusion::TwoSampleInfluence halves = measure(a, b);
      double acceleration = 0;
      first = of_statistic(halves.statistic, f);
      first_interval = diffusion::bca_interval(two_sample_replicates(halves, f, acceleration), first, acceleration);
      at_half += first / kSplits;
    } else {
      at_half += of_statistic(statistic(a, b), f) / kSplits;
    }
    at_quarter += of_statistic(statistic(a.narrow(0, 0, quarter), b.narrow(0, 0, quarter)), f) / kSplits;
  }
  // Effective sizes m / 4 (halves) and m / 8 (quarters): a ratio of 2.
  double exponent = std::log(at_quarter / at_half) / std::log(2.0);
  exponent = std::isfinite(exponent) ? std::clamp(exponent, 0.1, 1.0) : 0.5;
  const double effective = 1.0 / (1.0 / static_cast<double>(n) + 1.0 / static_cast<double>(m));
  const double scale = std::pow(effective / (static_cast<double>(m) / 4.0), -exponent);
  metric.annotations[metric_keys::kFloor] = at_half * scale;
  metric.annotations[metric_keys::kFloorLow] = std::max(0.0, at_half - (first - first_interval.lo)) * scale;
  metric.annotations[metric_keys::kFloorHigh] = (at_half + (first_interval.hi - first)) * scale;
  metric.annotations[metric_keys::kFloorExponent] = exponent;
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
