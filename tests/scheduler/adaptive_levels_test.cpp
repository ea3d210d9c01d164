// Algorithm 2 (AdaptiveLevels): on a closed-form score the online schedule converges to the
// closed-form equal-length schedule; the guard keeps an untrained network's costs from
// collapsing the knots; bad options are refused.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <functional>

#include <cmath>

#include "sigmaflow/diffusion/noise.h"
#include "sigmaflow/scheduler/score_optimal/adaptive_levels.h"
#include "sigmaflow/status.h"

namespace sf::so {
namespace {

// Isotropic Gaussian data N(0, c^2 I): Lambda(sigma) = 2 sqrt(d) [asinh(sigma/c) - sigma/sqrt(c^2+sigma^2)].
double lambda(double s, double c, int64_t d) {
  return 2 * std::sqrt(static_cast<double>(d)) * (std::asinh(s / c) - s / std::sqrt(c * c + s * s));
}

// The knots of equal Lambda steps between sigma_max and sigma_min (bisection on the closed form).
std::vector<double> closed_form_knots(double smin, double smax, int64_t intervals, double c, int64_t d) {
  std::vector<double> k;
  const double a = lambda(smax, c, d), b = lambda(smin, c, d);
  for (int64_t i = 0; i <= intervals; ++i) {
    const double target = a + (b - a) * static_cast<double>(i) / static_cast<double>(intervals);
    double lo = std::log(smin), hi = std::log(smax);
    for (int it = 0; it < 200; ++it) {
      const double mid = 0.5 * (lo + hi);
      (lambda(std::exp(mid), c, d) > target ? hi : lo) = mid;
    }
    k.push_back(std::exp(0.5 * (lo + hi)));
  }
  return k;
}

// Feeds `rounds` batches of rows through the distribution with the exact Gaussian score, as the
// trainer does: x = x0 + sigma n at the drawn knot, cost sigma'^2 ||s(x, sigma') - s(x, sigma)||^2.
void feed(AdaptiveLevels& levels, int64_t rounds, int64_t batch, double c, int64_t d, uint64_t seed,
          double (*denoise_factor)(double, double)) {
  at::Generator gen = diffusion::cpu_generator(seed);
  for (int64_t step = 0; step < rounds; ++step) {
    std::vector<int64_t> knots;
    std::vector<double> sigma = levels.draw(batch, gen, knots);
    at::Tensor x0 = at::randn({batch, d}, gen, at::kDouble) * c;
    at::Tensor noise = at::randn({batch, d}, gen, at::kDouble);
    std::vector<double> here(static_cast<size_t>(batch)), next(static_cast<size_t>(batch));
    for (size_t b = 0; b < here.size(); ++b) {
      const double s = sigma[b], sn = levels.next_level(knots[b]);
      // score = (f(s) - 1) x / s^2 for D = f(s) x; the cost's factor per row.
      here[b] = sn > 0 ? sn * ((denoise_factor(sn, c) - 1) / (sn * sn) - (denoise_factor(s, c) - 1) / (s * s)) : 0.0;
      next[b] = sn;
    }
    at::Tensor x = x0 + noise * at::tensor(sigma, at::kDouble).view({batch, 1});
    at::Tensor cost = (x * at::tensor(here, at::kDouble).view({batch, 1})).square().sum(1);
    std::vector<int64_t> rows;
    std::vector<double> costs;
    for (int64_t b = 0; b < batch; ++b)
      if (next[static_cast<size_t>(b)] > 0) {
        rows.push_back(knots[static_cast<size_t>(b)]);
        costs.push_back(cost[b].item<double>());
      }
    if (levels.wants_costs(step)) levels.observe_costs(step, rows, costs);
  }
}

double gaussian_factor(double s, double c) { return c * c / (c * c + s * s); }

TEST(AdaptiveLevels, ConvergesToTheClosedFormScheduleOfAGaussian) {
  const double c = 0.5, smin = 0.002, smax = 80;
  const int64_t d = 4, intervals = 24;
  AdaptiveOptions o;
  o.gamma = 0.2;
  o.n_min = 64;
  o.floor = 0.0;  // the paper's method: no tail prior
  o.max_spacing = INFINITY;
  o.dim = d;
  AdaptiveLevels levels(diffusion::discrete_schedule("linear", intervals + 1, smin, smax), o);
  feed(levels, 3000, 512, c, d, 1, gaussian_factor);
  EXPECT_GT(levels.updates(), 50);
  std::vector<double> truth = closed_form_knots(smin, smax, intervals, c, d);
  std::vector<double> got = levels.knots();
  std::vector<double> start = diffusion::discrete_schedule("linear", intervals + 1, smin, smax);
  ASSERT_EQ(got.size(), truth.size());
  // Compared in path length: |Lambda(got_i) - Lambda(truth_i)| / Lambda(total). (In sigma the
  // smallest knots are ill-defined: Lambda is flat where smooth data needs no steps.)
  const double total = lambda(smax, c, d) - lambda(smin, c, d);
  double worst = 0, start_worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    worst = std::max(worst, std::abs(lambda(got[i], c, d) - lambda(truth[i], c, d)) / total);
    start_worst = std::max(start_worst, std::abs(lambda(start[i], c, d) - lambda(truth[i], c, d)) / total);
  }
  // 3.5 % measured: the trapezoid rule over 24 coarse intervals (the start is off by 30 % or more).
  EXPECT_LT(worst, 0.05) << "max Lambda deviation / total";
  EXPECT_GT(start_worst, 0.3);
}

TEST(AdaptiveLevels, ConstantSpeedCostsAreAFixedPoint) {
  // Costs equal on every interval of the current knots: Algorithm 1 returns the same knots.
  AdaptiveOptions o;
  o.floor = 0.0;
  o.max_spacing = INFINITY;
  AdaptiveLevels levels(diffusion::discrete_schedule("geometric", 17, 0.01, 10), o);
  std::vector<double> t = levels.target(std::vector<double>(16, 0.3));
  std::vector<double> k = levels.knots();
  for (size_t i = 0; i < k.size(); ++i) EXPECT_NEAR(std::log(t[i]), std::log(k[i]), 1e-9);
}

// An untrained network's denoiser: noise-level features that swing fast at the noisy end, so the
// measured cost piles up there (what collapses the knots to that end when adapted from the start).
double untrained_factor(double s, double c) { return s > 5 ? std::sin(37 * std::log(s)) : c * c / (c * c + s * s); }

TEST(AdaptiveLevels, TheGuardStopsAnUntrainedNetworkCollapsingTheKnots) {
  const double smin = 0.002, smax = 80;
  const int64_t intervals = 32;
  const double uniform = (std::log(smax) - std::log(smin)) / intervals;
  auto widest = [&](const std::vector<double>& k) {
    double w = 0;
    for (size_t i = 0; i + 1 < k.size(); ++i) w = std::max(w, std::log(k[i] / k[i + 1]));
    return w;
  };
  AdaptiveOptions o;
  o.gamma = 0.5;
  o.n_min = 8;
  o.floor = 0.0;
  o.dim = 2;
  o.max_spacing = INFINITY;  // no guard
  AdaptiveLevels unguarded(diffusion::discrete_schedule("geometric", intervals + 1, smin, smax), o);
  feed(unguarded, 400, 256, 0.5, 2, 3, untrained_factor);
  o.max_spacing = 4.0;
  AdaptiveLevels guarded(diffusion::discrete_schedule("geometric", intervals + 1, smin, smax), o);
  feed(guarded, 400, 256, 0.5, 2, 3, untrained_factor);
  // Without the guard one interval swallows most of the range (the knots crowd the noisy end).
  EXPECT_GT(widest(unguarded.knots()), 10 * uniform);
  std::vector<double> k = unguarded.knots();
  const auto above = std::count_if(k.begin(), k.end(), [](double v) { return v > 5.0; });
  EXPECT_GT(above, 3 * intervals / 4) << "knots above sigma = 5 (9 of 33 at the start)";
  // With it, no interval is wider than 4 geometric spacings (a convex blend of guarded targets).
  EXPECT_LE(widest(guarded.knots()), 4 * uniform * (1 + 1e-9));
  EXPECT_GT(guarded.updates(), 10);
}

TEST(AdaptiveLevels, BurnInKeepsTheInitialScheduleAndStateRoundTrips) {
  AdaptiveOptions o;
  o.burn_in = 1000;
  o.n_min = 1;
  AdaptiveLevels levels(diffusion::discrete_schedule("linear", 9, 0.002, 80), o);
  std::vector<double> start = levels.knots();
  feed(levels, 200, 64, 0.5, 2, 4, gaussian_factor);
  EXPECT_EQ(levels.updates(), 0);
  EXPECT_EQ(levels.knots(), start);
  o.burn_in = 0;
  AdaptiveLevels moving(start, o);
  feed(moving, 50, 64, 0.5, 2, 4, gaussian_factor);
  EXPECT_GT(moving.updates(), 0);
  AdaptiveLevels copy(start, o);
  copy.restore(moving.state());
  EXPECT_EQ(copy.knots(), moving.knots());
  EXPECT_EQ(copy.state(), moving.state());
}

// Each refusal names the TrainDenoiser input it is about (the node no longer guesses "gamma").
std::string blamed(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const sf::InputError& e) {
    return e.input();
  }
  return "(accepted)";
}

TEST(AdaptiveLevels, BadOptionsAreRefusedNamingTheirInput) {
  std::vector<double> k = diffusion::discrete_schedule("linear", 9, 0.002, 80);
  for (double gamma : {0.0, -0.1, 1.5, std::nan("")}) {
    AdaptiveOptions o;
    o.gamma = gamma;
    EXPECT_EQ(blamed([&] { (void)AdaptiveLevels(k, o); }), "gamma") << gamma;
  }
  AdaptiveOptions o;
  o.n_min = 0;
  EXPECT_EQ(blamed([&] { (void)AdaptiveLevels(k, o); }), "n_min");
  o = {};
  o.burn_in = -1;
  EXPECT_EQ(blamed([&] { (void)AdaptiveLevels(k, o); }), "burn_in");
  o = {};
  o.max_spacing = 1.0;
  EXPECT_EQ(blamed([&] { (void)AdaptiveLevels(k, o); }), "max_spacing");
  EXPECT_EQ(blamed([] { (void)diffusion::discrete_schedule("quadratic", 9, 0.002, 80); }), "schedule");
  EXPECT_EQ(blamed([] { (void)diffusion::discrete_schedule("linear", 1, 0.002, 80); }), "levels");
  EXPECT_EQ(blamed([] { (void)diffusion::discrete_schedule("linear", 9, 80, 0.002); }), "sigma_min");
}

TEST(DiscreteSchedules, MatchTheirFormulas) {
  auto lin = diffusion::discrete_schedule("linear", 5, 1, 9);
  EXPECT_EQ(lin, (std::vector<double>{9, 7, 5, 3, 1}));
  auto geo = diffusion::discrete_schedule("geometric", 3, 0.01, 100);
  EXPECT_NEAR(geo[1], 1.0, 1e-12);
  auto cos = diffusion::discrete_schedule("cosine", 3, 0.002, 80);
  // Midpoint in t = 2/pi atan(sigma): tan of the mean angle.
  EXPECT_NEAR(cos[1], std::tan(0.5 * (std::atan(80.0) + std::atan(0.002))), 1e-12);
}

}  // namespace
}  // namespace sf::so
