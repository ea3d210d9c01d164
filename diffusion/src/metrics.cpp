#include "sigmaflow/diffusion/metrics.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <vector>

#include "sigmaflow/diffusion/bootstrap.h"
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

at::Tensor row_squared_distances(const at::Tensor& a, const at::Tensor& b, const Collectives* group) {
  return rows_gathered(group, a.size(0), [&](int64_t begin, int64_t end) {
    return (flat64(a.narrow(0, begin, end - begin)) - flat64(b.narrow(0, begin, end - begin))).pow(2).sum(1);
  });
}

double rms_distance(const at::Tensor& a, const at::Tensor& b, const Collectives* group) {
  return row_squared_distances(a, b, group).mean().sqrt().item<double>();
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

// The linearised (influence-function) bootstrap. Re-sorting every resample costs O(N P) per
// resample and, near the noise floor, duplicated particles inflate every resample's distance (the
// percentile interval then sits above the estimate). Instead each particle gets its influence on
// SW^2: per direction, the Kantorovich potential phi of the sorted projections against the
// reference quantiles (phi' = 2 (x - T(x)), T the monotone matching, integrated by trapezoids),
// averaged over the directions. A resample with counts c then measures
// SW^2 + (1/N) sum_i (c_i - 1) phi_i: first-order exact, O(N) per resample, paired through c.
SlicedWassersteinReference::Linearised SlicedWassersteinReference::linearised(const at::Tensor& samples) const {
  auto [sorted, order] = at::sort(at::matmul(dirs_.t(), flat64(samples).t()).contiguous(), 1);  // [P, n]
  const int64_t P = sorted.size(0), n = sorted.size(1);
  const at::Tensor q = quantiles(ref_sorted_, n).contiguous();  // the reference at n probabilities: [P, n]
  sorted = sorted.contiguous();
  order = order.contiguous();
  const double *xs = sorted.data_ptr<double>(), *qs = q.data_ptr<double>();
  const int64_t* os = order.data_ptr<int64_t>();
  // One fused pass per direction (the tensor expressions took 8 passes over [P, n] and a serial
  // index_add): SW^2's share, phi by trapezoids of phi' = 2 (x - T(x)), centred, added to its
  // particles. The directions fall into kGroups fixed groups, each summed in direction order into
  // its own row, and the rows are summed in group order: the same bits for any thread count.
  constexpr int64_t kGroups = 8;
  const int64_t groups = std::min(P, kGroups);
  std::vector<double> row_w2(static_cast<size_t>(P));
  at::Tensor by_group = at::zeros({groups, n}, sorted.options());
  double* gp = by_group.data_ptr<double>();
  at::parallel_for(0, groups, 1, [&](int64_t first_group, int64_t last_group) {
    std::vector<double> phi(static_cast<size_t>(n));
    for (int64_t g = first_group; g < last_group; ++g) {
      double* sums = gp + g * n;
      for (int64_t p = g * P / groups; p < (g + 1) * P / groups; ++p) {
        const double *x = xs + p * n, *t = qs + p * n;
        double previous_gap = x[0] - t[0], w2 = previous_gap * previous_gap, cumulative = 0, total = 0;
        phi[0] = 0;
        for (int64_t k = 1; k < n; ++k) {
          const double gap = x[k] - t[k];
          w2 += gap * gap;
          cumulative += (x[k] - x[k - 1]) * (gap + previous_gap);
          phi[static_cast<size_t>(k)] = cumulative;
          total += cumulative;
          previous_gap = gap;
        }
        row_w2[static_cast<size_t>(p)] = w2 / static_cast<double>(n);
        const double mean = total / static_cast<double>(n);
        const int64_t* o = os + p * n;
        for (int64_t k = 0; k < n; ++k) sums[o[k]] += (phi[static_cast<size_t>(k)] - mean) / static_cast<double>(P);
      }
    }
  });
  at::Tensor influence = by_group[0].clone();
  double* ip = influence.data_ptr<double>();
  for (int64_t g = 1; g < groups; ++g)
    for (int64_t i = 0; i < n; ++i) ip[i] += gp[g * n + i];
  double w2 = 0;
  for (double v : row_w2) w2 += v;
  return {w2 / static_cast<double>(P), influence};
}

double SlicedWassersteinReference::Linearised::resampled(const std::vector<uint32_t>& counts) const {
  const double* inf = influence.data_ptr<double>();
  const auto n = static_cast<int64_t>(counts.size());
  double shift = 0;
  for (int64_t i = 0; i < n; ++i) shift += counts[static_cast<size_t>(i)] * inf[i];
  return std::sqrt(std::max(0.0, squared + shift / static_cast<double>(n)));
}

std::vector<double> SlicedWassersteinReference::resampled_distances(const at::Tensor& samples, uint64_t seed,
                                                                    int64_t resamples) const {
  const Linearised lin = linearised(samples);
  std::vector<double> out(static_cast<size_t>(resamples));
  for (int64_t b = 0; b < resamples; ++b)
    out[static_cast<size_t>(b)] = lin.resampled(bootstrap_counts(samples.size(0), seed, b));
  return out;
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

at::Tensor nearest_component(const at::Tensor& samples, const at::Tensor& means, const Collectives* group) {
  at::Tensor mu = flat64(means);
  return rows_gathered(group, samples.size(0), [&](int64_t begin, int64_t end) {
    return std::get<1>(at::cdist(flat64(samples.narrow(0, begin, end - begin)), mu).min(1));
  });
}

double mode_coverage_tv_of(const at::Tensor& nearest, const at::Tensor& weights, const std::vector<uint32_t>& counts) {
  at::Tensor w = weights.to(at::kCPU, at::kDouble).contiguous();
  at::Tensor idx = nearest.to(at::kCPU, at::kLong).contiguous();
  const int64_t n = idx.numel(), k = w.numel();
  const int64_t* ip = idx.data_ptr<int64_t>();
  std::vector<double> hist(static_cast<size_t>(k), 0.0);
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double c = counts.empty() ? 1.0 : counts[static_cast<size_t>(i)];
    hist[static_cast<size_t>(ip[i])] += c;
    total += c;
  }
  const double* wp = w.data_ptr<double>();
  double tv = 0;
  for (int64_t j = 0; j < k; ++j) tv += std::fabs(hist[static_cast<size_t>(j)] / total - wp[j]);
  return 0.5 * tv;
}

double mode_coverage_tv(const at::Tensor& samples, const at::Tensor& means, const at::Tensor& weights,
                        const Collectives* group) {
  return mode_coverage_tv_of(nearest_component(samples, means, group), weights);
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

TwoSampleInfluence sliced_wasserstein_influence(const at::Tensor& a, const at::Tensor& b, int64_t projections,
                                                uint64_t seed) {
  const SlicedWassersteinReference::Linearised of_a = SlicedWassersteinReference(b, projections, seed).linearised(a);
  const SlicedWassersteinReference::Linearised of_b = SlicedWassersteinReference(a, projections, seed).linearised(b);
  const double w = sliced_wasserstein(a, b, projections, seed);
  return {w * w, of_a.influence, of_b.influence};
}

namespace {
// M^-1/2 of a symmetric positive semi-definite matrix; eigenvalues below 1e-12 of the largest
// count as zero (a pseudo-inverse: feature directions without spread carry no influence).
at::Tensor inverse_sqrt_psd(const at::Tensor& m) {
  auto [vals, vecs] = at::linalg_eigh(m);
  const double largest = vals.max().item<double>();
  at::Tensor kept = vals > 1e-12 * std::max(largest, 0.0);
  at::Tensor inv = at::where(kept, vals.clamp_min(1e-300).rsqrt(), at::zeros_like(vals));
  return at::matmul(vecs * inv.unsqueeze(0), vecs.transpose(0, 1));
}

// Each row's influence on the Frechet distance through its own set's fit (mean, cov): see
// frechet_influence. Rows mapped to features kFrechetBlock at a time.
at::Tensor frechet_row_influence(const at::Tensor& x, const FeatureMap& features, const at::Tensor& mean,
                                 const at::Tensor& cov, const at::Tensor& mean_gradient,
                                 const at::Tensor& cov_gradient) {
  const int64_t n = x.size(0);
  const double offset = (cov_gradient * cov).sum().item<double>();
  std::vector<at::Tensor> parts;
  for (int64_t r = 0; r < n; r += kFrechetBlock) {
    at::Tensor rows = x.narrow(0, r, std::min(kFrechetBlock, n - r));
    at::Tensor c = (features ? features(rows).to(at::kCPU, at::kDouble) : flat64(rows)) - mean;
    parts.push_back(at::matmul(c, mean_gradient) + (at::matmul(c, cov_gradient) * c).sum(1) - offset);
  }
  at::Tensor influence = at::cat(parts);
  return (influence - influence.mean()).contiguous();
}
}  // namespace

TwoSampleInfluence frechet_influence(const at::Tensor& a, const at::Tensor& b, const FeatureMap& features) {
  auto [ma, ca] = gaussian_fit(a, nullptr, features);
  auto [mb, cb] = gaussian_fit(b, nullptr, features);
  const at::Tensor identity = at::eye(ca.size(0), ca.options());
  const at::Tensor sa = sqrtm_psd(ca), sb = sqrtm_psd(cb);
  const at::Tensor ga = identity - at::matmul(at::matmul(sb, inverse_sqrt_psd(at::matmul(at::matmul(sb, ca), sb))), sb);
  const at::Tensor gb = identity - at::matmul(at::matmul(sa, inverse_sqrt_psd(at::matmul(at::matmul(sa, cb), sa))), sa);
  TwoSampleInfluence out;
  out.statistic = frechet_distance(a, b, nullptr, features);
  out.of_a = frechet_row_influence(a, features, ma, ca, 2 * (ma - mb), ga);
  out.of_b = frechet_row_influence(b, features, mb, cb, 2 * (mb - ma), gb);
  return out;
}

}  // namespace sf::diffusion
