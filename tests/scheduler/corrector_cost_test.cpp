// Closed-form checks of the corrector cost (reference/score_optimal.md): point mass, isotropic
// Gaussians in d = 1, 2, 64, 3072, equal costs, determinism; and the predictor cost's Gaussian
// closed form.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cmath>

#include "sigmaflow/scheduler/score_optimal/corrector_cost.h"
#include "sigmaflow/scheduler/score_optimal/predictor_cost.h"
#include "sigmaflow/scheduler/score_optimal/schedule_fit.h"
#include "support/function_model.h"

namespace sf::so {
namespace {

// D for N(0, c^2 I): c^2/(c^2+s^2) x (c = 0: a point mass at 0).
Denoiser gaussian(double c) {
  return [c](const at::Tensor& x, const NoiseLevels& s) {
    at::Tensor s2 = s.to_tensor(x.size(0), x.options()).pow(2).view({-1, 1});
    return x.reshape({x.size(0), -1}).mul(c * c).div(s2 + c * c).reshape(x.sizes());
  };
}

double exact_lambda(double c, int64_t d, double sigma) {
  return 2 * std::sqrt(static_cast<double>(d)) * (std::asinh(sigma / c) - sigma / std::sqrt(c * c + sigma * sigma));
}

TEST(CorrectorCost, PointMassIsGeometricTo1e6) {
  EstimateOptions o;
  o.grid_size = 128;
  o.particles = 64;
  o.common_random_numbers = true;
  at::Tensor data = at::zeros({10, 3}, at::kDouble);
  auto est = estimate_corrector_cost(test::FunctionModel(gaussian(0.0), {3}, 0.002, 80, at::kDouble), o, data);
  // L_c(s -> s')/d is (s/s' - s'/s)^2 times the particles' mean ||n||^2 / d.
  double h = std::log(80 / 0.002) / 128;
  double pm = std::pow(std::exp(h) - std::exp(-h), 2);
  for (double v : est.curve.cost) EXPECT_NEAR(v / est.curve.cost[0], 1.0, 1e-9);
  EXPECT_NEAR(est.curve.cost[0] / 3 / pm, 1.0, 0.25);  // Monte Carlo factor mean ||n||^2 / d
  for (int n : {5, 10, 40}) {
    auto s = fit_schedule(est.curve, n, {});
    for (int i = 0; i <= n; ++i)
      EXPECT_NEAR(s[static_cast<size_t>(i)] / (80 * std::pow(0.002 / 80, i / double(n))), 1.0, 1e-6);
  }
  // L_c(1 -> 0.5) / d = 2.25 exactly in expectation: check with many particles.
  auto costs = step_costs(gaussian(0.0), {1.0, 0.5}, at::zeros({1, 4}, at::kDouble), 200000, 1, nullptr);
  EXPECT_NEAR(costs[0] / 4, 2.25, 0.02);
}

struct GaussCase {
  double c;
  int64_t d;
  int64_t particles;
};

TEST(CorrectorCost, IsotropicGaussianLengthAndSchedules) {
  for (GaussCase gc :
       {GaussCase{0.5, 1, 32768}, GaussCase{1.0, 2, 16384}, GaussCase{2.0, 64, 1024}, GaussCase{0.3, 3072, 64}}) {
    EstimateOptions o;
    o.grid_size = 256;
    o.particles = gc.particles;
    o.seed = 3;
    // Data with exactly the target second moment per coordinate, so only the estimator is tested.
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(7);
    at::Tensor data = at::randn({20000, gc.d}, gen, at::TensorOptions().dtype(at::kDouble));
    data = (data - data.mean(0)) / data.pow(2).mean(0).sqrt() * gc.c;
    auto est = estimate_corrector_cost(test::FunctionModel(gaussian(gc.c), {gc.d}, 0.002, 80, at::kDouble), o, data);
    auto lam = cumulative_length(est.curve.cost);
    double want_total = exact_lambda(gc.c, gc.d, 80) - exact_lambda(gc.c, gc.d, 0.002);
    EXPECT_NEAR(lam.back() / want_total, 1.0, 0.02) << "c=" << gc.c << " d=" << gc.d;
    // Schedules against the exact-Lambda schedule (bisection on the closed form).
    for (int n : {10, 40}) {
      auto s = fit_schedule(est.curve, n, {});
      for (int k = 1; k < n; ++k) {
        double target = exact_lambda(gc.c, gc.d, 80) - want_total * k / n;
        double lo = std::log(0.002), hi = std::log(80.0);
        for (int it = 0; it < 200; ++it) {
          double mid = 0.5 * (lo + hi);
          (exact_lambda(gc.c, gc.d, std::exp(mid)) < target ? lo : hi) = mid;
        }
        EXPECT_NEAR(s[static_cast<size_t>(k)] / std::exp(lo), 1.0, 0.01)
            << "c=" << gc.c << " d=" << gc.d << " N=" << n << " k=" << k;
      }
    }
  }
}

TEST(CorrectorCost, ModelOwnReverseProcessWithoutData) {
  EstimateOptions o;
  o.grid_size = 128;
  o.particles = 4096;
  auto est = estimate_corrector_cost(test::FunctionModel(gaussian(1.0), {2}, 0.002, 80, at::kDouble), o);
  EXPECT_FALSE(est.from_data);
  auto lam = cumulative_length(est.curve.cost);
  double want = exact_lambda(1.0, 2, 80) - exact_lambda(1.0, 2, 0.002);
  EXPECT_NEAR(lam.back() / want, 1.0, 0.03);
  EXPECT_EQ(est.nfe, 2 * 128 * 4096 + (2 * 128 + 1) * 4096);
}

TEST(CorrectorCost, EqualStepCostsOnTheOutputSchedule) {
  EstimateOptions o;
  o.grid_size = 512;
  o.particles = 2048;
  at::Tensor data = at::randn({4000, 2}, at::TensorOptions().dtype(at::kDouble)) * 0.7;
  auto est = estimate_corrector_cost(test::FunctionModel(gaussian(0.7), {2}, 0.002, 80, at::kDouble), o, data);
  // Every step away from the tail carries the same cost. The last step enters sigma_min, and L_c
  // weighs a step by the level it enters (sigma'^2), so it costs ~0 by construction; steps that
  // end where the Gaussian's length saturates (sigma' < 2c) are not additive and cost less.
  for (int n : {10, 20}) {
    auto s = fit_schedule(est.curve, n, {});
    auto costs = step_costs(gaussian(0.7), s, data, 20000, 5, nullptr);
    ASSERT_EQ(costs.size(), static_cast<size_t>(n));
    EXPECT_LT(costs.back(), 1e-3 * costs.front());
    while (s[costs.size()] < 2 * 0.7) costs.pop_back();
    ASSERT_GE(costs.size(), static_cast<size_t>(n / 2));
    double mean = 0;
    for (double v : costs) mean += v / costs.size();
    for (size_t k = 0; k < costs.size(); ++k)
      EXPECT_NEAR(costs[k] / mean, 1.0, 0.05) << "N=" << n << " step " << k << " sigma " << s[k] << " -> " << s[k + 1];
  }
}

TEST(CorrectorCost, SameSeedSameScheduleAndMonotoneForEverySeed) {
  EstimateOptions o;
  o.grid_size = 64;
  o.particles = 32;
  at::Tensor data = at::randn({100, 2}, at::TensorOptions().dtype(at::kDouble));
  std::vector<double> first;
  for (uint64_t seed = 0; seed < 8; ++seed) {
    o.seed = seed;
    auto a = fit_schedule(
        estimate_corrector_cost(test::FunctionModel(gaussian(1.0), {2}, 0.002, 80, at::kFloat), o, data).curve, 10, {});
    auto b = fit_schedule(
        estimate_corrector_cost(test::FunctionModel(gaussian(1.0), {2}, 0.002, 80, at::kFloat), o, data).curve, 10, {});
    EXPECT_EQ(a, b) << seed;  // bitwise
    for (size_t i = 1; i < a.size(); ++i) EXPECT_LT(a[i], a[i - 1]) << seed;
    if (seed == 0)
      first = a;
    else
      EXPECT_NE(a, first);
  }
}

TEST(CorrectorCost, NonFiniteDenoiserNamesTheSigma) {
  Denoiser bad = [](const at::Tensor& x, const NoiseLevels& s) {
    at::Tensor out = x.clone();
    at::Tensor mask = (s.to_tensor(x.size(0), at::kDouble) < 0.05).view({-1, 1});
    return at::where(mask, at::full_like(out, NAN), out);
  };
  EstimateOptions o;
  o.grid_size = 16;
  o.particles = 8;
  try {
    estimate_corrector_cost(test::FunctionModel(bad, {2}, 0.01, 1.0, at::kDouble), o, at::zeros({4, 2}, at::kDouble));
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("NaN or Inf at sigma = 0.0"), std::string::npos) << e.what();
  }
  EXPECT_THROW(log_grid(1.0, 1.0, 4), std::invalid_argument);
}

double lp_closed_form(double c, int64_t d, double s, double sn) {
  double a = 1 + (sn - s) * s / (c * c + s * s);
  double inner = 1 / (c * c + sn * sn) - 1 / (a * a * (c * c + s * s));
  return sn * sn * d * a * a * (c * c + s * s) * inner * inner;
}

TEST(PredictorCost, EulerMatchesTheGaussianClosedFormAndVanishesForAPointMass) {
  PredictorOptions o;
  for (auto [c, d] : {std::pair{0.8, int64_t{2}}, std::pair{1.5, int64_t{40}}}) {
    for (auto [s, sn] : {std::pair{2.0, 1.0}, std::pair{0.5, 0.3}}) {
      at::Tensor x = at::randn({20000, d}, at::TensorOptions().dtype(at::kDouble)) * std::sqrt(c * c + s * s);
      auto r = predictor_step_cost(gaussian(c), x, s, sn, o, nullptr);
      EXPECT_EQ(r.folded, 0);
      EXPECT_NEAR(r.cost / lp_closed_form(c, d, s, sn), 1.0, 0.03) << "c=" << c << " d=" << d << " s=" << s;
    }
  }
  at::Tensor x = at::randn({500, 3}, at::TensorOptions().dtype(at::kDouble)) * 2.0;
  EXPECT_NEAR(predictor_step_cost(gaussian(0.0), x, 2.0, 1.0, o, nullptr).cost, 0.0, 1e-18);
}

TEST(PredictorCost, HeunStepAndEqualisation) {
  PredictorOptions o;
  o.step_map = "heun";
  o.estimate.particles = 256;
  o.iterations = 8;
  at::Tensor data = at::randn({2000, 2}, at::TensorOptions().dtype(at::kDouble)) * 0.5;
  auto r = predictor_optimal_schedule(test::FunctionModel(gaussian(0.5), {2}, 0.002, 80, at::kDouble), 8, o, data);
  ASSERT_EQ(r.schedule.size(), 9u);
  EXPECT_EQ(r.schedule.front(), 80.0);
  EXPECT_EQ(r.schedule.back(), 0.002);
  for (size_t i = 1; i < r.schedule.size(); ++i) EXPECT_LT(r.schedule[i], r.schedule[i - 1]);
  EXPECT_EQ(r.folded_samples, 0);
  EXPECT_GT(r.nfe, 0);
  o.step_map = "rk4";
  EXPECT_THROW(predictor_step_cost(gaussian(1.0), data.slice(0, 0, 4), 1.0, 0.5, o, nullptr), std::invalid_argument);
}

}  // namespace
}  // namespace sf::so
