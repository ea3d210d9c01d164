#include "sigmaflow/diffusion/bootstrap.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include <boost/math/distributions/normal.hpp>

namespace sf::diffusion {

namespace {
// An index in [0, n) from 64 random bits: the high half of the 128-bit product (Lemire's map),
// the same on every platform (std::uniform_int_distribution is not).
int64_t index_of(uint64_t bits, int64_t n) {
  return static_cast<int64_t>((static_cast<unsigned __int128>(bits) * static_cast<unsigned __int128>(n)) >> 64);
}
// The q-quantile of ascending values, interpolated linearly (numpy's default).
double sorted_quantile(const std::vector<double>& values, double q) {
  const double pos = q * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (values[hi] - values[lo]) * (pos - static_cast<double>(lo));
}
}  // namespace

std::vector<int64_t> bootstrap_indices(int64_t n, int64_t resamples, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::vector<int64_t> idx(static_cast<size_t>(n * resamples));
  for (auto& i : idx) i = index_of(gen(), n);
  return idx;
}

std::vector<uint32_t> bootstrap_counts(int64_t n, uint64_t seed, int64_t b) {
  // Resample b's stream: the seed and b mixed through SplitMix64's finaliser, so neighbouring
  // resamples (and neighbouring seeds) do not share generator states.
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (static_cast<uint64_t>(b) + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  std::mt19937_64 gen(z ^ (z >> 31));
  std::vector<uint32_t> counts(static_cast<size_t>(n), 0);
  for (int64_t k = 0; k < n; ++k) ++counts[static_cast<size_t>(index_of(gen(), n))];
  return counts;
}

Interval percentile_interval(std::vector<double> values, double level) {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  if (values.empty()) return {kNaN, kNaN};
  std::sort(values.begin(), values.end());
  const double tail = (1.0 - level) / 2.0;
  return {sorted_quantile(values, tail), sorted_quantile(values, 1.0 - tail)};
}

Interval bca_interval(std::vector<double> values, double point, double acceleration, double level) {
  const Interval plain = percentile_interval(values, level);
  if (values.size() < 2 || !std::isfinite(point) || !std::isfinite(acceleration)) return plain;
  double below = 0;
  for (double v : values) below += v < point ? 1.0 : v == point ? 0.5 : 0.0;
  const double share = below / static_cast<double>(values.size());
  if (share <= 0.0 || share >= 1.0) return plain;
  const boost::math::normal normal;
  const double z0 = boost::math::quantile(normal, share);
  auto adjusted = [&](double tail) {
    const double z = z0 + boost::math::quantile(normal, tail);
    const double denominator = 1.0 - acceleration * z;
    return denominator > 0 ? boost::math::cdf(normal, z0 + z / denominator) : std::numeric_limits<double>::quiet_NaN();
  };
  const double lo = adjusted((1.0 - level) / 2.0), hi = adjusted((1.0 + level) / 2.0);
  if (!(lo > 0.0 && hi < 1.0 && lo < hi)) return plain;
  std::sort(values.begin(), values.end());
  return {sorted_quantile(values, lo), sorted_quantile(values, hi)};
}

double bca_acceleration(const double* influence, int64_t n) {
  if (n < 3) return 0.0;
  double mean = 0;
  for (int64_t i = 0; i < n; ++i) mean += influence[i] / static_cast<double>(n);
  double s2 = 0, s3 = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double u = influence[i] - mean;
    s2 += u * u;
    s3 += u * u * u;
  }
  // No spread beyond rounding (a constant metric): no skewness either.
  const double resolution = 1e-12 * std::max(1.0, std::fabs(mean));
  if (s2 <= static_cast<double>(n) * resolution * resolution) return 0.0;
  return s3 / (6.0 * std::pow(s2, 1.5));
}

std::vector<double> paired_replicates(const std::vector<double>& a, const std::vector<double>& b, bool ratio) {
  std::vector<double> out;
  out.reserve(std::min(a.size(), b.size()));
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    const double v = ratio ? a[i] / b[i] : a[i] - b[i];
    if (std::isfinite(v)) out.push_back(v);
  }
  return out;
}

}  // namespace sf::diffusion
