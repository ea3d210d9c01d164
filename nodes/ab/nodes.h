// The A/B plugin: metrics, schedule sweeps and comparison reports.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "sigmaflow/node.h"
#include "sigmaflow/report.h"

namespace sf::diffusion {
struct TwoSampleInfluence;
}

namespace sf::nodes {

inline constexpr const char* kMetricCategory = "sampling/ab_testing/metrics";
inline constexpr const char* kAbCategory = "sampling/ab_testing";

NodeDef trajectory_error_node();
NodeDef sliced_wasserstein_node();
NodeDef mode_coverage_node();
NodeDef mean_log_density_node();
NodeDef frechet_distance_node();
NodeDef score_error_node();
NodeDef log_likelihood_node();
NodeDef schedule_sweep_node();
NodeDef compare_report_node();

// A METRIC carrying the provenance of the measured samples.
std::shared_ptr<Metric> make_metric(const std::string& name, double value, const std::string& computed_on,
                                    const Latent& samples, bool lower_is_better = true);
// Annotates `metric` (its value f(mean of per_particle), f = sqrt for an RMS, identity for a mean)
// with the 95 % BCa bootstrap interval over the particles (1000 resamples of a fixed seed, the
// resampling ScheduleSweep uses), its acceleration and the particle count.
enum class OfMean { kIdentity, kSqrt };
void annotate_particle_interval(Metric& metric, const at::Tensor& per_particle, OfMean f);
// The same for a two-sample statistic (sliced W2: f = sqrt of SW^2; Frechet: identity) from its
// linearised bootstrap: both sets resampled, independently (1000 resamples; the samples' counts
// from bootstrap seed 0, the reference's from seed 1). `particles` is the samples' count.
void annotate_two_sample_interval(Metric& metric, const diffusion::TwoSampleInfluence& t, OfMean f);
// The noise floor of a two-sample distance (metric_keys::kFloor*): the mean distance between the
// two halves of 4 seeded shuffles of `reference` (effective size m / 4; rows taken as independent
// draws), rescaled to this comparison's effective size 1 / (1/n + 1/m) with the exponent measured
// from their quarters (clamped to [0.1, 1]); its interval from one split's two-sample bootstrap.
// Nothing is written for fewer than 64 reference rows (quarters of 16 say nothing).
// `statistic` gives the statistic alone (SW^2, FD) where `measure` gives it with its influence.
using TwoSampleMeasure = std::function<diffusion::TwoSampleInfluence(const at::Tensor&, const at::Tensor&)>;
using TwoSampleStatistic = std::function<double(const at::Tensor&, const at::Tensor&)>;
void annotate_reference_floor(Metric& metric, const at::Tensor& reference, int64_t n, uint64_t seed, OfMean f,
                              const TwoSampleMeasure& measure, const TwoSampleStatistic& statistic);
// The model's exact-density capability; throws InputError about `input` when it has none.
const ExactDensity& exact_of(const Model& model, const std::string& input);
// Sliced W2 holds the directions [dims, P] and the projections of every row [rows, P] in float64,
// sorted (a copy): throws InputError about "projections" naming the bytes when that does not fit.
void check_projection_memory(int64_t rows, int64_t dims, int64_t projections);
// Throws InputError about `input` unless the batch is non-empty and every value finite (a NaN
// sample would make the metric NaN, written as null, and a report would rank it silently).
void check_usable_samples(const Latent& samples, const std::string& input);
// Throws InputError unless both batches are usable (above) and have the same per-sample shape.
void check_same_sample_shape(const Latent& a, const std::string& a_name, const Latent& b, const std::string& b_name);

}  // namespace sf::nodes
