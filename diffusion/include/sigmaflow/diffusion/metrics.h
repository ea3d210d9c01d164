// Distances between sample sets, on flattened batches [N, d] (float64 on the host device).
//
// With `group` (torchrun), each rank computes a share (rows, or projections) and the results are
// combined so that every rank returns the single process's value bit for bit
// (sigmaflow/diffusion/row_blocks.h); `group` null: one process.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "sigmaflow/collectives.h"

namespace sf::diffusion {

// sqrt(mean_i ||a_i - b_i||^2): discretisation error against a reference from the same noise.
// Sharded along rows.
double rms_distance(const at::Tensor& a, const at::Tensor& b, const Collectives* group = nullptr);
// ||a_i - b_i||^2 per row: [N] float64 on the CPU (what rms_distance averages; the bootstrap
// resamples it). Sharded along rows.
at::Tensor row_squared_distances(const at::Tensor& a, const at::Tensor& b, const Collectives* group = nullptr);
// Sliced 2-Wasserstein: sqrt(mean over random unit directions of W2^2 of the 1-D projections);
// unequal sample counts are compared through quantiles. Sharded along the directions.
double sliced_wasserstein(const at::Tensor& a, const at::Tensor& b, int64_t projections, uint64_t seed,
                          const Collectives* group = nullptr);
// Sliced W2 against one fixed reference set: the directions and the reference's sorted
// projections are computed once, so many sample sets can be measured against it cheaply.
class SlicedWassersteinReference {
 public:
  // With `group`, each rank sorts a share of the directions and the sorted projections are
  // gathered (every rank gets the whole reference).
  SlicedWassersteinReference(const at::Tensor& reference, int64_t projections, uint64_t seed,
                             const Collectives* group = nullptr);
  double distance(const at::Tensor& samples) const;
  // The distance of `resamples` bootstrap resamples of `samples` (resample b: the counts
  // bootstrap_counts(N, seed, b), so runs from the same noises are resampled alike: paired),
  // against the fixed reference, to first order (the linearised bootstrap: each particle's
  // influence on SW^2 from the Kantorovich potentials, so no resample inflates the distance with
  // duplicated particles). The reference is not resampled: its own sampling noise is what the
  // noise floor measures. O(N x P) once, then O(N) per resample.
  std::vector<double> resampled_distances(const at::Tensor& samples, uint64_t seed, int64_t resamples) const;
  // The same in parts, for callers that draw the resamples' counts themselves.
  struct Linearised {
    double squared = 0.0;  // SW^2 of the samples
    at::Tensor influence;  // [N] float64 CPU: each particle's influence on SW^2 (summing to 0)
    // The distance of a resample drawn with these counts (one per sample, summing to N).
    double resampled(const std::vector<uint32_t>& counts) const;
  };
  // sqrt(squared) equals distance(samples) when the samples are as many as the reference.
  Linearised linearised(const at::Tensor& samples) const;
  int64_t reference_size() const { return ref_sorted_.size(1); }

 private:
  at::Tensor dirs_;        // [d, P]
  at::Tensor ref_sorted_;  // [P, M]
};

// Total-variation distance between the fraction of samples nearest each mean and the weights.
// Sharded along rows.
double mode_coverage_tv(const at::Tensor& samples, const at::Tensor& means, const at::Tensor& weights,
                        const Collectives* group = nullptr);
// The index of the nearest mean per sample: [N] int64 on the CPU. Sharded along rows.
at::Tensor nearest_component(const at::Tensor& samples, const at::Tensor& means, const Collectives* group = nullptr);
// mode_coverage_tv from nearest_component's indices, each sample counted `counts[i]` times
// (empty counts: once).
double mode_coverage_tv_of(const at::Tensor& nearest, const at::Tensor& weights,
                           const std::vector<uint32_t>& counts = {});

// Rows [r, ...] -> features [r, F] (float64); empty: the flattened rows themselves.
using FeatureMap = std::function<at::Tensor(const at::Tensor&)>;
// Frechet distance between Gaussians fitted to the two sets' features:
// ||mu_a - mu_b||^2 + tr(Ca + Cb - 2 (Ca^1/2 Cb Ca^1/2)^1/2). Means and covariances are sums
// over blocks of kFrechetBlock rows (block_tree_sum), sharded along those blocks.
constexpr int64_t kFrechetBlock = 1024;
double frechet_distance(const at::Tensor& a, const at::Tensor& b, const Collectives* group = nullptr,
                        const FeatureMap& features = {});
// A fixed random feature map (seeded) of inputs with `in_dim` values: relu(x W + b) / sqrt(dim),
// W ~ N(0, 1/in_dim).
FeatureMap random_feature_map(int64_t in_dim, int64_t dim, uint64_t seed);

// A two-sample statistic T(a, b) with each particle's first-order influence on it: resampling a
// with counts c (summing to N) and b with counts d (summing to M) gives, to first order,
// T + (1/N) sum_i (c_i - 1) of_a_i + (1/M) sum_j (d_j - 1) of_b_j. The linearised bootstrap of
// both sets (docs/ab-testing.md): no resample re-sorts or re-fits, and none inflates a distance
// with duplicated particles. Not sharded: every rank of a group computes the same.
struct TwoSampleInfluence {
  double statistic = 0.0;  // SW^2 for sliced W2, the distance itself for Frechet
  at::Tensor of_a, of_b;   // [N], [M] float64 on the CPU, each summing to 0
};
// Sliced W2 (the directions of sliced_wasserstein with the same seed): SW^2 and the Kantorovich
// potentials of each set against the other (SlicedWassersteinReference::linearised, both ways).
TwoSampleInfluence sliced_wasserstein_influence(const at::Tensor& a, const at::Tensor& b, int64_t projections,
                                                uint64_t seed);
// Frechet distance: a particle x of a moves the fit by (x - mu_a) and (x - mu_a)(x - mu_a)^T - C_a,
// so its influence is 2 (mu_a - mu_b).(x - mu_a) + <G_a, (x - mu_a)(x - mu_a)^T - C_a> with
// G_a = dFD/dC_a = I - C_b^1/2 (C_b^1/2 C_a C_b^1/2)^-1/2 C_b^1/2 (pseudo-inverse below 1e-12 of the
// largest eigenvalue); the same for b with the roles swapped. Features mapped in blocks of rows.
TwoSampleInfluence frechet_influence(const at::Tensor& a, const at::Tensor& b, const FeatureMap& features = {});

}  // namespace sf::diffusion
