#include "sigmaflow/diffusion/metrics.h"

#include <ATen/ATen.h>

#include <cmath>

#include "sigmaflow/diffusion/noise.h"

namespace sf::diffusion {

namespace {
at::Tensor flat64(const at::Tensor& t) { return t.reshape({t.size(0), -1}).to(at::kCPU, at::kDouble); }

// Quantiles of the rows of `sorted` ([P, m], each row ascending) at n evenly spaced
// probabilities (midpoints), by linear interpolation: [P, n].
at::Tensor quantiles(const at::Tensor& sorted, int64_t n) {
  int64_t m = sorted.size(1);
  if (m == n) return sorted;
  at::Tensor p = (at::arange(n, at::kDouble) + 0.5) / static_cast<double>(n) * static_cast<double>(m) - 0.5;
  p = p.clamp(0, static_cast<double>(m - 1));
  at::Tensor lo = p.floor().to(at::kLong), hi = p.ceil().to(at::kLong);
  at::Tensor w = p - lo.to(at::kDouble);
  return sorted.index_select(1, lo) * (1 - w) + sorted.index_select(1, hi) * w;
}

at::Tensor sqrtm_psd(const at::Tensor& m) {
  auto [vals, vecs] = at::linalg_eigh(m);
  return at::matmul(vecs * vals.clamp_min(0).sqrt().unsqueeze(0), vecs.transpose(0, 1));
}
}  // namespace

double rms_distance(const at::Tensor& a, const at::Tensor& b) {
  return (flat64(a) - flat64(b)).pow(2).sum(1).mean().sqrt().item<double>();
}

SlicedWassersteinReference::SlicedWassersteinReference(const at::Tensor& reference, int64_t projections,
                                                       uint64_t seed) {
  at::Tensor fb = flat64(reference);
  at::Generator gen = cpu_generator(seed);
  dirs_ = at::randn({fb.size(1), projections}, gen, at::TensorOptions().dtype(at::kDouble));
  dirs_ = dirs_ / dirs_.norm(2, 0, true);
  // Projections as rows [P, N], sorted along each row.
  ref_sorted_ = std::get<0>(at::sort(at::matmul(dirs_.t(), fb.t()).contiguous(), 1));
}

double SlicedWassersteinReference::distance(const at::Tensor& samples) const {
  at::Tensor pa = std::get<0>(at::sort(at::matmul(dirs_.t(), flat64(samples).t()).contiguous(), 1));
  int64_t n = std::max(pa.size(1), ref_sorted_.size(1));
  return std::sqrt((quantiles(pa, n) - quantiles(ref_sorted_, n)).pow(2).mean().item<double>());
}

double sliced_wasserstein(const at::Tensor& a, const at::Tensor& b, int64_t projections, uint64_t seed) {
  return SlicedWassersteinReference(b, projections, seed).distance(a);
}

double mode_coverage_tv(const at::Tensor& samples, const at::Tensor& means, const at::Tensor& weights) {
  at::Tensor x = flat64(samples), mu = flat64(means);
  at::Tensor d2 = at::cdist(x, mu);
  at::Tensor nearest = std::get<1>(d2.min(1));
  at::Tensor counts = at::bincount(nearest, {}, mu.size(0)).to(at::kDouble) / static_cast<double>(x.size(0));
  return 0.5 * (counts - weights.to(at::kCPU, at::kDouble)).abs().sum().item<double>();
}

double frechet_distance(const at::Tensor& a, const at::Tensor& b) {
  at::Tensor fa = flat64(a), fb = flat64(b);
  at::Tensor ma = fa.mean(0), mb = fb.mean(0);
  at::Tensor ca = at::matmul((fa - ma).t(), fa - ma) / static_cast<double>(std::max<int64_t>(1, fa.size(0) - 1));
  at::Tensor cb = at::matmul((fb - mb).t(), fb - mb) / static_cast<double>(std::max<int64_t>(1, fb.size(0) - 1));
  at::Tensor sa = sqrtm_psd(ca);
  at::Tensor cross = sqrtm_psd(at::matmul(at::matmul(sa, cb), sa));
  double v = (ma - mb).pow(2).sum().item<double>() + (ca + cb - 2 * cross).trace().item<double>();
  return std::max(0.0, v);
}

at::Tensor random_features(const at::Tensor& x, int64_t dim, uint64_t seed) {
  at::Tensor f = flat64(x);
  at::Generator gen = cpu_generator(seed);
  at::Tensor w = at::randn({f.size(1), dim}, gen, at::TensorOptions().dtype(at::kDouble)) /
                 std::sqrt(static_cast<double>(f.size(1)));
  at::Tensor b = at::randn({dim}, gen, at::TensorOptions().dtype(at::kDouble));
  return at::relu(at::matmul(f, w) + b) / std::sqrt(static_cast<double>(dim));
}

}  // namespace sf::diffusion
