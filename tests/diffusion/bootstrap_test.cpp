// The bootstrap behind every interval (sigmaflow/diffusion/bootstrap.h): percentiles as numpy
// computes them, seeded uniform draws, intervals that cover a known mean at their level, paired
// intervals narrower than unpaired ones on correlated errors, and zero width for a constant.
#include "sigmaflow/diffusion/bootstrap.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>

#include "support/gaussian_reference.h"

namespace sf::diffusion {
namespace {

TEST(Bootstrap, PercentileIntervalInterpolatesAsNumpy) {
  // numpy.percentile([1, 2, 3, 4, 5], [25, 75]) = [2, 4]; [10, 90] of [0, 10] = [1, 9].
  Interval a = percentile_interval({5, 1, 4, 2, 3}, 0.5);
  EXPECT_DOUBLE_EQ(a.lo, 2.0);
  EXPECT_DOUBLE_EQ(a.hi, 4.0);
  Interval b = percentile_interval({10, 0}, 0.8);
  EXPECT_DOUBLE_EQ(b.lo, 1.0);
  EXPECT_DOUBLE_EQ(b.hi, 9.0);
  EXPECT_TRUE(std::isnan(percentile_interval({}).lo));
}

TEST(Bootstrap, IndicesAreSeededAndUniform) {
  auto a = bootstrap_indices(10, 2000, 7), b = bootstrap_indices(10, 2000, 7), c = bootstrap_indices(10, 2000, 8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::vector<int> count(10, 0);
  for (int64_t i : a) {
    ASSERT_GE(i, 0);
    ASSERT_LT(i, 10);
    ++count[static_cast<size_t>(i)];
  }
  // 20,000 draws: each index 2,000 +- 4.5 standard deviations (sd = 42.4).
  for (int k : count) EXPECT_NEAR(k, 2000, 190);
}

// The 95 % percentile interval of the mean of 200 N(1, 2^2) draws covers 1 in 93-97 % of 1000
// repeats (the binomial sd of the coverage is 0.7 %).
TEST(Bootstrap, IntervalCoversTheMeanOfAGaussianAtItsLevel) {
  std::mt19937_64 gen(12345);
  std::normal_distribution<double> normal(1.0, 2.0);
  const int64_t n = 200, resamples = 1000, repeats = 1000;
  int covered = 0;
  for (int64_t r = 0; r < repeats; ++r) {
    std::vector<double> x(static_cast<size_t>(n));
    for (auto& v : x) v = normal(gen);
    auto idx = bootstrap_indices(n, resamples, static_cast<uint64_t>(r));
    std::vector<double> means(static_cast<size_t>(resamples));
    for (int64_t b = 0; b < resamples; ++b) {
      double s = 0;
      for (int64_t i = 0; i < n; ++i) s += x[static_cast<size_t>(idx[static_cast<size_t>(b * n + i)])];
      means[static_cast<size_t>(b)] = s / static_cast<double>(n);
    }
    Interval ci = percentile_interval(means);
    covered += ci.lo <= 1.0 && 1.0 <= ci.hi;
  }
  EXPECT_GE(covered, 930);
  EXPECT_LE(covered, 970);
}

TEST(Bootstrap, CountsAreSeededPerResampleAndSumToTheDraws) {
  auto a = bootstrap_counts(50, 3, 0), b = bootstrap_counts(50, 3, 0), c = bootstrap_counts(50, 3, 1),
       d = bootstrap_counts(50, 4, 0);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(a, d);
  EXPECT_EQ(std::accumulate(a.begin(), a.end(), 0u), 50u);
  // Over 4000 resamples each particle is drawn once per resample on average (sd of the mean
  // count 1/sqrt(4000) ~ 0.016).
  std::vector<double> total(50, 0.0);
  for (int64_t r = 0; r < 4000; ++r) {
    auto k = bootstrap_counts(50, 9, r);
    for (size_t i = 0; i < k.size(); ++i) total[i] += k[i];
  }
  for (double t : total) EXPECT_NEAR(t / 4000.0, 1.0, 0.08);
}

// The mean of a resample from its counts.
double resampled_mean(const std::vector<double>& x, uint64_t seed, int64_t b) {
  auto k = bootstrap_counts(static_cast<int64_t>(x.size()), seed, b);
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += k[i] * x[i];
  return s / static_cast<double>(x.size());
}

// Two schedules run from the same noises: errors a_i = z_i + 0.1 u_i and b_i = z_i + 0.1 v_i share
// the per-noise part z_i. The difference of the means has sd 0.1 sqrt(2/n) when paired and about
// sqrt(2 (1 + 0.01) / n) when the two sets are resampled independently: paired is ~10x narrower.
TEST(Bootstrap, PairedIntervalIsNarrowerOnCorrelatedErrors) {
  std::mt19937_64 gen(5);
  std::normal_distribution<double> normal(0.0, 1.0);
  const int64_t n = 400, resamples = 1000;
  std::vector<double> a(n), b(n);
  for (int64_t i = 0; i < n; ++i) {
    const double z = normal(gen);
    a[static_cast<size_t>(i)] = z + 0.1 * normal(gen);
    b[static_cast<size_t>(i)] = z + 0.1 * normal(gen);
  }
  std::vector<double> ra, rb_paired, rb_unpaired;
  for (int64_t r = 0; r < resamples; ++r) {
    ra.push_back(resampled_mean(a, 1, r));
    rb_paired.push_back(resampled_mean(b, 1, r));
    rb_unpaired.push_back(resampled_mean(b, 2, r));
  }
  Interval paired = percentile_interval(paired_replicates(ra, rb_paired, false));
  Interval unpaired = percentile_interval(paired_replicates(ra, rb_unpaired, false));
  const double paired_width = paired.hi - paired.lo, unpaired_width = unpaired.hi - unpaired.lo;
  // Theory: widths 2 x 1.96 x 0.00707 = 0.0277 (paired) and 2 x 1.96 x 0.0711 = 0.279 (unpaired).
  EXPECT_NEAR(paired_width, 0.0277, 0.006);
  EXPECT_NEAR(unpaired_width, 0.279, 0.05);
  EXPECT_LT(paired_width * 5, unpaired_width);
}

// The trajectory error a sweep reports for Euler on one Gaussian N(mu, s0^2 I) in 3-D: every
// particle's error is |gain - exact| ||sigma0 z_i - mu|| (z_i standard normal; the gains in closed
// form, tests/support/gaussian_reference.h), so the RMS over infinitely many particles is
// |gain - exact| sqrt(3 sigma0^2 + ||mu||^2). The 95 % interval of the RMS of 400 particles, from
// resample counts as the sweep draws them, covers it in 93-97 % of 1000 repeats.
TEST(Bootstrap, RmsIntervalCoversEulersClosedFormErrorAtItsLevel) {
  const double s0 = 0.5, sigma0 = 80.0, mu[3] = {0.3, -0.2, 0.1};
  const std::vector<double> sigmas = {80.0, 10.0, 1.0, 0.1, 0.0};
  const double factor =
      std::fabs(test::reference_multiplier("euler", s0, sigmas) - test::exact_multiplier(s0, sigma0, 0.0));
  const double truth = factor * std::sqrt(3 * sigma0 * sigma0 + mu[0] * mu[0] + mu[1] * mu[1] + mu[2] * mu[2]);
  std::mt19937_64 gen(2024);
  std::normal_distribution<double> normal(0.0, 1.0);
  const int64_t n = 400, resamples = 400, repeats = 1000;
  int covered = 0;
  for (int64_t r = 0; r < repeats; ++r) {
    std::vector<double> squared(static_cast<size_t>(n));
    for (auto& e : squared) {
      double norm2 = 0;
      for (double m : mu) {
        const double d = sigma0 * normal(gen) - m;
        norm2 += d * d;
      }
      e = factor * factor * norm2;
    }
    std::vector<double> rms;
    for (int64_t b = 0; b < resamples; ++b) {
      auto k = bootstrap_counts(n, static_cast<uint64_t>(r), b);
      double s = 0;
      for (size_t i = 0; i < squared.size(); ++i) s += k[i] * squared[i];
      rms.push_back(std::sqrt(s / static_cast<double>(n)));
    }
    double mean = 0;
    for (double e : squared) mean += e / static_cast<double>(n);
    Interval ci = bca_interval(rms, std::sqrt(mean), bca_acceleration(squared.data(), n));
    covered += ci.lo <= truth && truth <= ci.hi;
  }
  EXPECT_GE(covered, 930);
  EXPECT_LE(covered, 970);
}

// The acceleration of a mean is skewness / (6 sqrt(n)): 2 / (6 sqrt(n)) for exponential draws,
// checked on a sample large enough for its skewness to be near 2.
TEST(Bootstrap, AccelerationIsTheSkewnessOverSixRootN) {
  std::mt19937_64 gen(78);
  std::exponential_distribution<double> exponential(1.0);
  std::vector<double> x(200000);
  for (auto& v : x) v = exponential(gen);
  EXPECT_NEAR(bca_acceleration(x.data(), static_cast<int64_t>(x.size())), 2.0 / (6.0 * std::sqrt(200000.0)),
              0.05 * 2.0 / (6.0 * std::sqrt(200000.0)));
  const std::vector<double> flat(10, 3.0);
  EXPECT_EQ(bca_acceleration(flat.data(), 10), 0.0);
}

// BCa on a known skewed case: the mean of 30 exponential(1) draws (skewness 2), truth 1. Over 1000
// repeats BCa covers more often than the percentile interval, which misses on the right tail.
TEST(Bootstrap, BcaCorrectsASkewedMean) {
  std::mt19937_64 gen(77);
  std::exponential_distribution<double> exponential(1.0);
  const int64_t n = 30, resamples = 1000, repeats = 1000;
  int bca = 0, plain = 0;
  double acceleration_sum = 0;
  for (int64_t r = 0; r < repeats; ++r) {
    std::vector<double> x(static_cast<size_t>(n));
    for (auto& v : x) v = exponential(gen);
    double point = 0;
    for (double v : x) point += v / static_cast<double>(n);
    std::vector<double> means;
    for (int64_t b = 0; b < resamples; ++b) means.push_back(resampled_mean(x, static_cast<uint64_t>(r), b));
    const double a = bca_acceleration(x.data(), n);
    acceleration_sum += a;
    Interval i = bca_interval(means, point, a), p = percentile_interval(means);
    bca += i.lo <= 1.0 && 1.0 <= i.hi;
    plain += p.lo <= 1.0 && 1.0 <= p.hi;
  }
  std::printf("exponential mean, n = 30: BCa covered %d, percentile %d of 1000 (mean acceleration %.4f)\n", bca,
              plain, acceleration_sum / repeats);
  EXPECT_GT(bca, plain);
  EXPECT_GE(bca, 915);
}

TEST(Bootstrap, ConstantMetricHasZeroWidth) {
  std::vector<double> x(100, 2.5), reps;
  for (int64_t r = 0; r < 200; ++r) reps.push_back(resampled_mean(x, 4, r));
  Interval i = percentile_interval(reps);
  EXPECT_DOUBLE_EQ(i.lo, 2.5);
  EXPECT_DOUBLE_EQ(i.hi, 2.5);
  // A ratio of a metric to itself: exactly 1, zero width.
  Interval self = percentile_interval(paired_replicates(reps, reps, true));
  EXPECT_DOUBLE_EQ(self.lo, 1.0);
  EXPECT_DOUBLE_EQ(self.hi, 1.0);
}

TEST(Bootstrap, PairedReplicatesDropZeroDenominators) {
  auto r = paired_replicates({1.0, 2.0, 3.0}, {2.0, 0.0, 1.0}, true);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_DOUBLE_EQ(r[0], 0.5);
  EXPECT_DOUBLE_EQ(r[1], 3.0);
}

}  // namespace
}  // namespace sf::diffusion
