// The regularisers bench_optimal_steps compares with the DP (bench/shrinkage.h).
#include "shrinkage.h"

#include <gtest/gtest.h>

#include <cmath>

namespace sf::bench {
namespace {

TEST(SmoothedInLogSigma, StrengthZeroAndLogLinearAreFixedPoints) {
  const std::vector<double> dp{80, 20, 3, 0.5, 0.002, 0};
  EXPECT_EQ(smoothed_in_log_sigma(dp, 0.0), dp);
  // A log-linear schedule has no second differences: smoothing leaves it where it is.
  std::vector<double> loglinear;
  for (int i = 0; i < 8; ++i) loglinear.push_back(80 * std::pow(0.002 / 80, i / 7.0));
  loglinear.push_back(0);
  const auto s = smoothed_in_log_sigma(loglinear, 50.0);
  ASSERT_EQ(s.size(), loglinear.size());
  for (size_t i = 0; i < s.size(); ++i) EXPECT_NEAR(s[i], loglinear[i], 1e-9 * loglinear[0]) << i;
}

TEST(SmoothedInLogSigma, OneInteriorValueMatchesTheHandSolution) {
  // n = 3 positive values, ends pinned: z1 minimises (z1 - y1)^2 + s (y0 - 2 z1 + y2)^2, so
  // z1 = (y1 + 2 s (y0 + y2)) / (1 + 4 s).
  const std::vector<double> dp{10, 5, 0.1, 0};
  const double s = 2.0, y0 = std::log(10), y1 = std::log(5), y2 = std::log(0.1);
  const auto z = smoothed_in_log_sigma(dp, s);
  ASSERT_EQ(z.size(), 4u);
  EXPECT_DOUBLE_EQ(z[0], 10);
  EXPECT_DOUBLE_EQ(z[2], 0.1);
  EXPECT_EQ(z[3], 0);
  EXPECT_NEAR(std::log(z[1]), (y1 + 2 * s * (y0 + y2)) / (1 + 4 * s), 1e-9);
}

TEST(SmoothedInLogSigma, LargeStrengthTendsToTheLogLinearScheduleBetweenTheEnds) {
  const std::vector<double> dp{80, 60, 2, 1.5, 0.3, 0.01, 0.002, 0};
  const auto z = smoothed_in_log_sigma(dp, 1e8);
  ASSERT_EQ(z.size(), dp.size());
  for (size_t i = 0; i + 1 < z.size(); ++i)
    EXPECT_NEAR(std::log(z[i]), std::log(80) + (std::log(0.002) - std::log(80)) * static_cast<double>(i) / 6.0, 1e-5)
        << i;
}

TEST(SmoothedInLogSigma, RefusesWhatIsNotASchedule) {
  EXPECT_TRUE(smoothed_in_log_sigma({1, 2, 0}, 1.0).empty());      // ascending
  EXPECT_TRUE(smoothed_in_log_sigma({3, 2, 1}, 1.0).empty());      // no final 0
  EXPECT_TRUE(smoothed_in_log_sigma({3, 2, 1, 0}, -1.0).empty());  // negative strength
  EXPECT_TRUE(smoothed_in_log_sigma({3, 2, 1, 0}, NAN).empty());   // NaN strength
}

TEST(BlendedInLogSigma, IsTheStepwiseWeightedGeometricMean) {
  const std::vector<double> a{80, 10, 1, 0.002, 0}, b{80, 4, 0.25, 0.002, 0};
  EXPECT_EQ(blended_in_log_sigma(a, b, 1.0), a);
  const auto half = blended_in_log_sigma(a, b, 0.5);
  ASSERT_EQ(half.size(), 5u);
  EXPECT_DOUBLE_EQ(half[0], 80);
  EXPECT_NEAR(half[1], std::sqrt(40.0), 1e-12);
  EXPECT_NEAR(half[2], 0.5, 1e-12);
  EXPECT_DOUBLE_EQ(half[3], 0.002);
  EXPECT_EQ(half[4], 0);
  const auto zero = blended_in_log_sigma(a, b, 0.0);
  for (size_t i = 0; i < b.size(); ++i) EXPECT_NEAR(zero[i], b[i], 1e-12 * b[0]);
  EXPECT_TRUE(blended_in_log_sigma(a, {80, 1, 0}, 0.5).empty());
}

}  // namespace
}  // namespace sf::bench
