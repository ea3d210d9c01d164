#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "nodes.h"
#include "sigmaflow/diffusion/bootstrap.h"
#include "sigmaflow/diffusion/metrics.h"
#include "sigmaflow/ports.h"

namespace sf::nodes {

namespace {

// Declared once: each is the contract's entry and the typed reader in execute (sigmaflow/ports.h).
const In<Latent> kSamples{Port("samples", "LATENT")};
const In<Model> kModel{Requires(Port("model", "MODEL"), kExactDensity)};

}  // namespace

namespace {
// The exact samples behind the floor: a fixed seed, so a result does not depend on the run.
constexpr uint64_t kFloorSeed = 0x5eed;
constexpr int64_t kResamples = 1000;

// The TV's bootstrap interval over the particles (bias-corrected percentiles: the TV is not a
// smooth mean, so no acceleration), and its noise floor: the TV of `exact_samples` (as many
// exact draws as samples), what a perfect sampler would score, with its own bootstrap interval.
void annotate_mode_coverage(Metric& metric, const at::Tensor& nearest, const at::Tensor& exact_samples,
                            const ExactDensity& exact) {
  const at::Tensor weights = exact.component_weights();
  const at::Tensor floor_nearest = diffusion::nearest_component(exact_samples, exact.component_means());
  const int64_t n = nearest.numel();
  std::vector<double> reps(static_cast<size_t>(kResamples)), floor_reps(static_cast<size_t>(kResamples));
  at::parallel_for(0, kResamples, 1, [&](int64_t first, int64_t last) {
    for (int64_t b = first; b < last; ++b) {
      const std::vector<uint32_t> counts = diffusion::bootstrap_counts(n, 0, b);
      reps[static_cast<size_t>(b)] = diffusion::mode_coverage_tv_of(nearest, weights, counts);
      floor_reps[static_cast<size_t>(b)] = diffusion::mode_coverage_tv_of(floor_nearest, weights, counts);
    }
  });
  const diffusion::Interval i = diffusion::bca_interval(std::move(reps), metric.value, 0.0);
  const double floor = diffusion::mode_coverage_tv_of(floor_nearest, weights);
  const diffusion::Interval fi = diffusion::bca_interval(std::move(floor_reps), floor, 0.0);
  metric.annotations[metric_keys::kIntervalLow] = i.lo;
  metric.annotations[metric_keys::kIntervalHigh] = i.hi;
  metric.annotations[metric_keys::kParticles] = static_cast<double>(n);
  metric.annotations[metric_keys::kFloor] = floor;
  metric.annotations[metric_keys::kFloorLow] = fi.lo;
  metric.annotations[metric_keys::kFloorHigh] = fi.hi;
}
}  // namespace

NodeDef mode_coverage_node() {
  NodeContract c =
      Node("ModeCoverage", kMetricCategory,
           "For mixture models: total-variation distance between the fraction of samples nearest each "
           "component mean and the true weights (0 = every mode at its right mass). Carries its 95 % "
           "interval over the particles and its noise floor: the same TV for as many exact samples of the model.",
           {kSamples, kModel}, {{"METRIC", "METRIC"}});
  return make_node(c, [](Context& ctx, const Inputs& in) {
    auto s = kSamples(in);
    auto model = kModel(in);
    const ExactDensity& exact = exact_of(*model, kModel.name());
    at::Tensor means = exact.component_means(), weights = exact.component_weights();
    check_usable_samples(*s, kSamples.name());
    if (s->samples().numel() / s->samples().size(0) != means.numel() / means.size(0))
      throw InputError(kSamples.name(), c10::str(s->samples().sizes()), "samples do not match the model's sample size");
    const at::Tensor nearest = diffusion::nearest_component(s->samples(), means, ctx.collectives());
    const int64_t n = nearest.numel();
    auto m = make_metric("mode_coverage_tv", diffusion::mode_coverage_tv_of(nearest, weights),
                         std::to_string(n) + " samples, " + std::to_string(means.size(0)) + " components", *s);
    annotate_mode_coverage(*m, nearest, exact.sample_data(n, kFloorSeed), exact);
    return Outputs{Value(std::shared_ptr<const Object>(m))};
  });
}

}  // namespace sf::nodes
