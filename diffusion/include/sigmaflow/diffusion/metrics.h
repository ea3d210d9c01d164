// Distances between sample sets, on flattened batches [N, d] (float64 on the host device).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace sf::diffusion {

// sqrt(mean_i ||a_i - b_i||^2): discretisation error against a reference from the same noise.
double rms_distance(const at::Tensor& a, const at::Tensor& b);
// Sliced 2-Wasserstein: sqrt(mean over random unit directions of W2^2 of the 1-D projections);
// unequal sample counts are compared through quantiles.
double sliced_wasserstein(const at::Tensor& a, const at::Tensor& b, int64_t projections, uint64_t seed);
// Sliced W2 against one fixed reference set: the directions and the reference's sorted
// projections are computed once, so many sample sets can be measured against it cheaply.
class SlicedWassersteinReference {
 public:
  SlicedWassersteinReference(const at::Tensor& reference, int64_t projections, uint64_t seed);
  double distance(const at::Tensor& samples) const;

 private:
  at::Tensor dirs_;        // [d, P]
  at::Tensor ref_sorted_;  // [P, M]
};

// Total-variation distance between the fraction of samples nearest each mean and the weights.
double mode_coverage_tv(const at::Tensor& samples, const at::Tensor& means, const at::Tensor& weights);
// Frechet distance between Gaussians fitted to the two sets:
// ||mu_a - mu_b||^2 + tr(Ca + Cb - 2 (Ca^1/2 Cb Ca^1/2)^1/2).
double frechet_distance(const at::Tensor& a, const at::Tensor& b);
// A fixed random feature map (seeded): relu(x W + b) / sqrt(dim), W ~ N(0, 1/d).
at::Tensor random_features(const at::Tensor& x, int64_t dim, uint64_t seed);

}  // namespace sf::diffusion
