// Distances between sample sets, on flattened batches [N, d] (float64 on the host device).
//
// With `group` (torchrun), each rank computes a share (rows, or projections) and the results are
// combined so that every rank returns the single process's value bit for bit
// (sigmaflow/diffusion/row_blocks.h); `group` null: one process.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>

#include "sigmaflow/collectives.h"

namespace sf::diffusion {

// sqrt(mean_i ||a_i - b_i||^2): discretisation error against a reference from the same noise.
// Sharded along rows.
double rms_distance(const at::Tensor& a, const at::Tensor& b, const Collectives* group = nullptr);
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

 private:
  at::Tensor dirs_;        // [d, P]
  at::Tensor ref_sorted_;  // [P, M]
};

// Total-variation distance between the fraction of samples nearest each mean and the weights.
// Sharded along rows.
double mode_coverage_tv(const at::Tensor& samples, const at::Tensor& means, const at::Tensor& weights,
                        const Collectives* group = nullptr);

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

}  // namespace sf::diffusion
