#include "sigmaflow/diffusion/bootstrap.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

namespace sf::diffusion {

namespace {
// An index in [0, n) from 64 random bits: the high half of the 128-bit product (Lemire's map),
// the same on every platform (std::uniform_int_distribution is not).
int64_t index_of(uint64_t bits, int64_t n) {
  return static_cast<int64_t>((static_cast<unsigned __int128>(bits) * static_cast<unsigned __int128>(n)) >> 64);
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
  auto at_quantile = [&](double q) {
    const double pos = q * static_cast<double>(values.size() - 1);
    const auto lo = static_cast<size_t>(std::floor(pos));
    const size_t hi = std::min(lo + 1, values.size() - 1);
    return values[lo] + (values[hi] - values[lo]) * (pos - static_cast<double>(lo));
  };
  const double tail = (1.0 - level) / 2.0;
  return {at_quantile(tail), at_quantile(1.0 - tail)};
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
