#include "sigmaflow/diffusion/metrics.h"

#include <ATen/ATen.h>

#include <cmath>

#include "sigmaflow/diffusion/noise.h"
#include "sigmaflow/diffusion/row_blocks.h"

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

// `projections` random unit directions in d dimensions, as columns [d, P].
at::Tensor unit_directions(int64_t d, int64_t projections, uint64_t seed) {
  at::Generator gen = cpu_generator(seed);
  at::Tensor dirs = at::randn({d, projections}, gen, at::TensorOptions().dtype(at::kDouble));
  return dirs / dirs.norm(2, 0, true);
}

at::Tensor sqrtm_psd(const at::Tensor& m) {
  auto [vals, vecs] = at::linalg_eigh(m);
  return at::matmul(vecs * vals.clamp_min(0).sqrt().unsqueeze(0), vecs.transpose(0, 1));
}
}  // namespace

double rms_distance(const at::Tensor& a, const at::Tensor& b, const Collectives* group) {
  at::Tensor per_row = rows_gathered(group, a.size(0), [&](int64_t begin, int64_t end) {
    return (flat64(a.narrow(0, begin, end - begin)) - flat64(b.narrow(0, begin, end - begin))).pow(2).sum(1);
  });
  return per_row.mean().sqrt().item<double>();
}

SlicedWassersteinReference::SlicedWassersteinReference(const at::Tensor& reference, int64_t projections, uint64_t seed,
                                                       const Collectives* group) {
  at::Tensor fb = flat64(reference);
  dirs_ = unit_directions(fb.size(1), projections, seed);
  // Projections as rows [P, N], sorted along each row.
  ref_sorted_ = rows_gathered(group, projections, [&](int64_t begin, int64_t end) {
    return std::get<0>(at::sort(at::matmul(dirs_.narrow(1, begin, end - begin).t(), fb.t()).contiguous(), 1));
  });
}

namespace {
// Per direction (columns of dirs), the mean squared difference of the quantiles: [P].
at::Tensor w2_per_direction(const at::Tensor& dirs, const at::Tensor& samples, const at::Tensor& ref_sorted) {
  at::Tensor pa = std::get<0>(at::sort(at::matmul(dirs.t(), flat64(samples).t()).contiguous(), 1));
  int64_t n = std::max(pa.size(1), ref_sorted.size(1));
  return (quantiles(pa, n) - quantiles(ref_sorted, n)).pow(2).mean(1);
}
}  // namespace

double SlicedWassersteinReference::distance(const at::Tensor& samples) const {
  return std::sqrt(w2_per_direction(dirs_, samples, ref_sorted_).mean().item<double>());
}

double sliced_wasserstein(const at::Tensor& a, const at::Tensor& b, int64_t projections, uint64_t seed,
                          const Collectives* group) {
  at::Tensor fb = flat64(b);
  at::Tensor dirs = unit_directions(fb.size(1), projections, seed);
  at::Tensor per_direction = rows_gathered(group, projections, [&](int64_t begin, int64_t end) {
    at::Tensor mine = dirs.narrow(1, begin, end - begin);
    at::Tensor ref_sorted = std::get<0>(at::sort(at::matmul(mine.t(), fb.t()).contiguous(), 1));
    return w2_per_direction(mine, a, ref_sorted);
  });
  return std::sqrt(per_direction.mean().item<double>());
}

double mode_coverage_tv(const at::Tensor& samples, const at::Tensor& means, const at::Tensor& weights,
                        const Collectives* group) {
  at::Tensor mu = flat64(means);
  at::Tensor nearest = rows_gathered(group, samples.size(0), [&](int64_t begin, int64_t end) {
    return std::get<1>(at::cdist(flat64(samples.narrow(0, begin, end - begin)), mu).min(1));
  });
  at::Tensor counts = at::bincount(nearest, {}, mu.size(0)).to(at::kDouble) / static_cast<double>(samples.size(0));
  return 0.5 * (counts - weights.to(at::kCPU, at::kDouble)).abs().sum().item<double>();
}

namespace {
// Mean and covariance (divisor n - 1) of the features of x's rows, as tree sums over row blocks;
// each rank maps only its own blocks (once: kept for the second pass).
std::pair<at::Tensor, at::Tensor> gaussian_fit(const at::Tensor& x, const Collectives* group,
                                               const FeatureMap& features) {
  auto map = [&](int64_t begin, int64_t end) {
    at::Tensor rows = x.narrow(0, begin, end - begin);
    return features ? features(rows).to(at::kCPU, at::kDouble) : flat64(rows);
  };
  const int64_t n = x.size(0), width = map(0, 1).size(1);
  BlockShare share = share_blocks(group, n, kFrechetBlock);
  std::vector<at::Tensor> mine;
  for (int64_t r = share.first; r < share.first + share.count; r += kFrechetBlock)
    mine.push_back(map(r, std::min(r + kFrechetBlock, share.first + share.count)));
  auto block = [&](int64_t begin) -> const at::Tensor& {
    return mine[static_cast<size_t>((begin - share.first) / kFrechetBlock)];
  };
  at::Tensor mean = block_tree_sum(share, width, [&](int64_t begin, int64_t) { return block(begin).sum(0); }) /
                    static_cast<double>(n);
  at::Tensor scatter = block_tree_sum(share, width * width, [&](int64_t begin, int64_t) {
    at::Tensor c = block(begin) - mean;
    return at::matmul(c.t(), c).reshape(-1);
  });
  return {mean, scatter.reshape({width, width}) / static_cast<double>(std::max<int64_t>(1, n - 1))};
}
}  // namespace

double frechet_distance(const at::Tensor& a, const at::Tensor& b, const Collectives* group,
                        const FeatureMap& features) {
  auto [ma, ca] = gaussian_fit(a, group, features);
  auto [mb, cb] = gaussian_fit(b, group, features);
  at::Tensor sa = sqrtm_psd(ca);
  at::Tensor cross = sqrtm_psd(at::matmul(at::matmul(sa, cb), sa));
  double v = (ma - mb).pow(2).sum().item<double>() + (ca + cb - 2 * cross).trace().item<double>();
  return std::max(0.0, v);
}

FeatureMap random_feature_map(int64_t in_dim, int64_t dim, uint64_t seed) {
  at::Generator gen = cpu_generator(seed);
  at::Tensor w =
      at::randn({in_dim, dim}, gen, at::TensorOptions().dtype(at::kDouble)) / std::sqrt(static_cast<double>(in_dim));
  at::Tensor b = at::randn({dim}, gen, at::TensorOptions().dtype(at::kDouble));
  return [w, b, dim](const at::Tensor& x) {
    return at::relu(at::matmul(flat64(x), w) + b) / std::sqrt(static_cast<double>(dim));
  };
}

}  // namespace sf::diffusion
