// Algorithm 1, the tail prior, PCHIP and the online blend, on hand-built cost curves.
#include <gtest/gtest.h>

#include <cmath>

#include "sigmaflow/scheduler/score_optimal/schedule_fit.h"

namespace sf::so {
namespace {

std::vector<double> geometric(double lo, double hi, int n) {
  std::vector<double> g;
  for (int i = 0; i <= n; ++i) g.push_back(hi * std::pow(lo / hi, static_cast<double>(i) / n));
  return g;
}

TEST(PointMassCost, ClosedForm) {
  EXPECT_DOUBLE_EQ(point_mass_cost(1.0, 0.5, 1), 2.25);
  EXPECT_DOUBLE_EQ(point_mass_cost(1.0, 0.5, 4) / 4, 2.25);
}

TEST(FitSchedule, EqualCostsOnALogGridGiveTheGeometricSchedule) {
  CostCurve c{geometric(0.002, 80, 300), std::vector<double>(300, 3.0), 2};
  for (int n : {1, 2, 7, 10, 40}) {
    auto s = fit_schedule(c, n, {});
    auto want = geometric(0.002, 80, n);
    ASSERT_EQ(s.size(), want.size());
    for (size_t i = 0; i < s.size(); ++i) EXPECT_NEAR(s[i] / want[i], 1.0, 1e-12) << n << " " << i;
  }
}

TEST(FitSchedule, EndpointsExactMonotoneAndEqualLengthSteps) {
  // A bumpy cost curve: the steps crowd where it is expensive.
  auto g = geometric(0.01, 50, 200);
  std::vector<double> cost(200);
  for (int i = 0; i < 200; ++i) cost[static_cast<size_t>(i)] = 0.01 + std::exp(-std::pow((i - 120) / 10.0, 2));
  CostCurve c{g, cost, 1};
  std::vector<double> lam;
  auto s = fit_schedule(c, 12, {}, &lam);
  EXPECT_EQ(s.front(), 50.0);
  EXPECT_EQ(s.back(), 0.01);
  for (size_t i = 1; i < s.size(); ++i) EXPECT_LT(s[i], s[i - 1]);
  // Each step covers Lambda / N of the cumulative length (interpolated in log sigma).
  std::vector<double> ls;
  for (double v : g) ls.push_back(-std::log(v));
  auto lambda_at = [&](double sigma) {
    double x = -std::log(sigma);
    size_t j = static_cast<size_t>(std::upper_bound(ls.begin(), ls.end(), x) - ls.begin());
    j = std::min(std::max<size_t>(j, 1), ls.size() - 1);
    return lam[j - 1] + (lam[j] - lam[j - 1]) * (x - ls[j - 1]) / (ls[j] - ls[j - 1]);
  };
  for (int k = 1; k < 12; ++k) EXPECT_NEAR(lambda_at(s[static_cast<size_t>(k)]) / lam.back(), k / 12.0, 2e-3) << k;
}

TEST(FitSchedule, TailPriorRemovesTheFreeRegion) {
  // Costs vanish below sigma = 0.1 (data's finest scale): the paper's fit leaves one huge last step.
  auto g = geometric(0.002, 80, 400);
  std::vector<double> cost;
  for (size_t i = 0; i + 1 < g.size(); ++i) cost.push_back(g[i] > 0.1 ? point_mass_cost(g[i], g[i + 1], 2) * 10 : 0.0);
  CostCurve c{g, cost, 2};
  auto paper = fit_schedule(c, 10, {0.0, 1e-10});
  EXPECT_GT(paper[9] / paper[10], 40.0);  // ... 0.1, then straight to 0.002
  // floor 1: the prior is a tenth of the signal above 0.1, so ~1.6 of the 10 steps land below it.
  auto floored = fit_schedule(c, 10, {1.0, 1e-10});
  EXPECT_LT(floored[9] / floored[10], paper[9] / paper[10] / 4);
}

TEST(FitSchedule, ZeroCostsFallBackToGeometricAndBadInputsThrow) {
  CostCurve c{geometric(1, 100, 10), std::vector<double>(10, 0.0), 1};
  auto s = fit_schedule(c, 2, {});
  EXPECT_NEAR(s[1], 10.0, 1e-9);
  EXPECT_THROW(fit_schedule(c, 0, {}), std::invalid_argument);
  CostCurve nan{geometric(1, 100, 2), {1.0, NAN}, 1};
  EXPECT_THROW(fit_schedule(nan, 2, {}), std::invalid_argument);
  CostCurve asc{{1, 2, 3}, {1, 1}, 1};
  EXPECT_THROW(fit_schedule(asc, 2, {}), std::invalid_argument);
}

TEST(Pchip, InterpolatesMonotoneDataWithoutOvershoot) {
  Pchip p({0, 1, 2, 3, 4}, {0, 0, 1, 1, 5});
  for (double x = 0; x <= 4; x += 0.01) {
    double y = p(x);
    EXPECT_GE(y, -1e-12);
    EXPECT_LE(y, 5 + 1e-12);
    if (x <= 1) {
      EXPECT_NEAR(y, 0.0, 1e-12);
    }
    if (x >= 2 && x <= 3) {
      EXPECT_NEAR(y, 1.0, 1e-12);
    }
  }
  EXPECT_DOUBLE_EQ(p(2.0), 1.0);
  Pchip line({0, 1, 3}, {1, 3, 7});  // a line stays a line
  EXPECT_NEAR(line(2.2), 5.4, 1e-12);
}

TEST(OnlineSchedule, EqualCostScheduleIsAFixedPointAndBlendsConverge) {
  auto g = geometric(0.01, 10, 8);
  OnlineSchedule fixed(g, 0.3);
  auto s = fixed.update(std::vector<double>(8, 1.0));
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(s[i] / g[i], 1.0, 1e-12);
  // Costs proportional to the step's point-mass cost times a weight that doubles in the lower
  // half: repeated updates move steps down and stay monotone.
  OnlineSchedule on(g, 0.5, {}, 1);
  for (int it = 0; it < 20; ++it) {
    const auto& cur = on.schedule();
    std::vector<double> costs;
    for (size_t k = 0; k + 1 < cur.size(); ++k)
      costs.push_back(point_mass_cost(cur[k], cur[k + 1], 1) * (cur[k] < 0.3 ? 4 : 1));
    on.update(costs);
    for (size_t k = 1; k < on.schedule().size(); ++k) ASSERT_LT(on.schedule()[k], on.schedule()[k - 1]);
  }
  EXPECT_EQ(on.updates(), 20);
  EXPECT_LT(on.schedule()[4], g[4]);
  EXPECT_THROW(OnlineSchedule(g, 0.0), std::invalid_argument);
  EXPECT_THROW(blend({1, 0.5}, {1, 0.4, 0.1}, 0.5), std::invalid_argument);
}

}  // namespace
}  // namespace sf::so
