// Stock schedules against values derived independently from the published formulas (written
// here with numpy-style i/(N-1) ramps, not the library's linspace), for N = 1, 2, 5, 10, 18, 40 and
// both (0.002, 80) and (0.0291675, 14.614642).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "sigmaflow/scheduler/stock.h"
#include "sigmaflow/testing/node_runner.h"

namespace sf {
namespace {

using Sigmas = std::vector<double>;  // expected values, written by hand

const int kSteps[] = {1, 2, 5, 10, 18, 40};
const std::pair<double, double> kRanges[] = {{0.002, 80.0}, {0.0291675, 14.614642}};

double ramp(int i, int n) { return n == 1 ? 0.0 : static_cast<double>(i) / (n - 1); }

void expect_close(const Sigmas& got, const Sigmas& want, double rel = 1e-6);
void expect_close(const diffusion::Sigmas& got, const Sigmas& want, double rel = 1e-6) {
  expect_close(got.values(), want, rel);
}

void expect_close(const diffusion::Sigmas& got, const diffusion::Sigmas& want, double rel = 1e-6) {
  expect_close(got.values(), want.values(), rel);
}

void expect_close(const Sigmas& got, const Sigmas& want, double rel) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i] == 0)
      EXPECT_EQ(got[i], 0.0) << i;
    else
      EXPECT_NEAR(got[i] / want[i], 1.0, rel) << "index " << i << " got " << got[i] << " want " << want[i];
  }
}

TEST(Schedules, KarrasMatchesFormula) {
  for (auto [lo, hi] : kRanges)
    for (int n : kSteps)
      for (double rho : {7.0, 3.0, 1.0}) {
        Sigmas want;
        for (int i = 0; i < n; ++i)
          want.push_back(
              std::pow(std::pow(hi, 1 / rho) + ramp(i, n) * (std::pow(lo, 1 / rho) - std::pow(hi, 1 / rho)), rho));
        want.push_back(0);
        expect_close(schedules::karras(n, lo, hi, rho), want);
      }
  // Hand values: N = 2 is [smax, smin, 0]; rho = 1 is linear.
  expect_close(schedules::karras(2, 0.002, 80, 7), {80, 0.002, 0});
  expect_close(schedules::karras(3, 1, 3, 1), {3, 2, 1, 0});
}

TEST(Schedules, ExponentialIsGeometric) {
  for (auto [lo, hi] : kRanges)
    for (int n : kSteps) {
      Sigmas want;
      for (int i = 0; i < n; ++i) want.push_back(hi * std::pow(lo / hi, ramp(i, n)));
      want.push_back(0);
      expect_close(schedules::exponential(n, lo, hi), want);
    }
  expect_close(schedules::exponential(3, 0.01, 100), {100, 1, 0.01, 0});
}

TEST(Schedules, PolyexponentialWithRhoOneIsExponential) {
  for (auto [lo, hi] : kRanges)
    for (int n : kSteps) {
      expect_close(schedules::polyexponential(n, lo, hi, 1.0), schedules::exponential(n, lo, hi));
      Sigmas want;
      for (int i = 0; i < n; ++i)
        want.push_back(std::exp(std::pow(1 - ramp(i, n), 2.0) * std::log(hi / lo) + std::log(lo)));
      want.push_back(0);
      expect_close(schedules::polyexponential(n, lo, hi, 2.0), want);
    }
}

TEST(Schedules, VpMatchesFormula) {
  for (int n : kSteps) {
    Sigmas want;
    for (int i = 0; i < n; ++i) {
      double t = 1 + ramp(i, n) * (1e-3 - 1);
      want.push_back(std::sqrt(std::exp(19.9 * t * t / 2 + 0.1 * t) - 1));
    }
    want.push_back(0);
    expect_close(schedules::vp(n), want, 1e-9);
  }
}

TEST(Schedules, KlOptimalMatchesFormula) {
  for (auto [lo, hi] : kRanges)
    for (int n : kSteps) {
      Sigmas want;
      for (int i = 0; i < n; ++i)
        want.push_back(std::tan(ramp(i, n) * std::atan(lo) + (1 - ramp(i, n)) * std::atan(hi)));
      want.push_back(0);
      expect_close(schedules::kl_optimal(n, lo, hi), want);
    }
  expect_close(schedules::kl_optimal(2, 0.5, 2.0), {2.0, 0.5, 0});
}

TEST(Schedules, LaplaceHasNoTrailingZeroAndIsClamped) {
  for (auto [lo, hi] : kRanges)
    for (int n : kSteps) {
      Sigmas got = schedules::laplace(n, lo, hi).values();
      ASSERT_EQ(got.size(), static_cast<size_t>(n));
      for (int i = 0; i < n; ++i) {
        double x = ramp(i, n), d = 0.5 - x;
        double lmb = -0.5 * (d > 0 ? 1 : d < 0 ? -1 : 0) * std::log(1 - 2 * std::fabs(d) + 1e-5);
        EXPECT_NEAR(got[static_cast<size_t>(i)], std::min(hi, std::max(lo, std::exp(lmb))), 1e-9 * hi);
      }
    }
  // Midpoint of an odd count is exp(0) = 1.
  EXPECT_DOUBLE_EQ(schedules::laplace(5, 0.002, 80)[2], 1.0);
}

TEST(Schedules, AlignYourStepsTablesAndResampling) {
  Sigmas sd1 = schedules::align_your_steps("SD1", 10, 1.0).values();
  ASSERT_EQ(sd1.size(), 11u);
  EXPECT_DOUBLE_EQ(sd1[0], 14.6146412293);
  EXPECT_DOUBLE_EQ(sd1[9], 0.1515232662);
  EXPECT_EQ(sd1[10], 0.0);
  // 20 steps: even indices keep the table (log-linear interpolation at the original knots),
  // odd ones are geometric means of their neighbours.
  Sigmas s20 = schedules::align_your_steps("SD1", 20, 1.0).values();
  ASSERT_EQ(s20.size(), 21u);
  const auto& t = schedules::ays_table("SD1");
  for (int k = 0; k < 10; ++k) EXPECT_NEAR(s20[static_cast<size_t>(2 * k)] / t[static_cast<size_t>(k)], 1.0, 1e-12);
  EXPECT_NEAR(s20[1], std::sqrt(t[0] * t[1]), 1e-9);
  EXPECT_EQ(s20[20], 0.0);
  // Denoise keeps the last round(steps * denoise) steps of the full table.
  Sigmas half = schedules::align_your_steps("SDXL", 10, 0.5).values();
  ASSERT_EQ(half.size(), 6u);
  EXPECT_DOUBLE_EQ(half[0], schedules::ays_table("SDXL")[5]);
  EXPECT_TRUE(schedules::align_your_steps("SVD", 10, 0.0).empty());
  EXPECT_THROW(schedules::ays_table("SD3"), InputError);
}

TEST(Schedules, LoglinearInterpRefusesZeros) {
  EXPECT_THROW(schedules::loglinear_interp({3, 2, 1, 0}, 5), InputError);
  Sigmas r = schedules::loglinear_interp({8, 2}, 3);
  expect_close(r, {8, 4, 2});
}

TEST(Schedules, TableSchedulesOnADiscreteTable) {
  // SD1.5 table: betas = linspace(sqrt(0.00085), sqrt(0.012), 1000)^2.
  std::vector<double> table;
  double ac = 1;
  for (int k = 0; k < 1000; ++k) {
    double b = std::pow(std::sqrt(0.00085) + (std::sqrt(0.012) - std::sqrt(0.00085)) * k / 999.0, 2);
    ac *= 1 - b;
    table.push_back(std::sqrt((1 - ac) / ac));
  }
  EXPECT_NEAR(table.front(), 0.0291675, 1e-6);
  EXPECT_NEAR(table.back(), 14.614642, 1e-5);
  // simple: every 100th entry from the top for 10 steps.
  Sigmas s = schedules::simple(10, table).values();
  ASSERT_EQ(s.size(), 11u);
  for (int x = 0; x < 10; ++x) EXPECT_DOUBLE_EQ(s[static_cast<size_t>(x)], table[static_cast<size_t>(999 - 100 * x)]);
  // ddim_uniform: stride 100 from index 1, reversed, then 0.
  Sigmas d = schedules::ddim_uniform(10, table).values();
  ASSERT_EQ(d.size(), 11u);
  EXPECT_DOUBLE_EQ(d[0], table[901]);
  EXPECT_DOUBLE_EQ(d[9], table[1]);
  EXPECT_EQ(d[10], 0.0);
  // beta: Beta(0.6, 0.6) quantiles; first is the top of the table, strictly descending.
  Sigmas b = schedules::beta(10, table).values();
  EXPECT_DOUBLE_EQ(b[0], table[999]);
  for (size_t i = 1; i < b.size(); ++i) EXPECT_LT(b[i], b[i - 1]);
}

TEST(Schedules, InvalidRangesAreRefused) {
  // Errors are typed: they carry the input at fault, no guessing from the message.
  auto input_of = [](auto f) {
    try {
      f();
    } catch (const InputError& e) {
      return e.input();
    }
    return std::string("no error");
  };
  EXPECT_EQ(input_of([] { schedules::karras(0, 0.002, 80); }), "steps");
  EXPECT_EQ(input_of([] { schedules::karras(5, 80, 0.002); }), "sigma_min");
  EXPECT_EQ(input_of([] { schedules::karras(5, 0.002, 80, -1); }), "rho");
  EXPECT_EQ(input_of([] { schedules::exponential(5, 1, 1); }), "sigma_min");
  EXPECT_EQ(input_of([] { schedules::exponential(5, 0, 1); }), "sigma_min");
  EXPECT_EQ(input_of([] { schedules::kl_optimal(5, NAN, 1); }), "sigma_min");
  EXPECT_EQ(input_of([] { schedules::vp(5, 19.9, 0.1, 2.0); }), "eps_s");
}

// ---- through the plugin: float32 outputs, registry, node errors ----------------------------

testing::NodeRunner& runner() {
  static testing::NodeRunner r({SF_PLUGIN_DIR});
  return r;
}

std::vector<double> values(const at::Tensor& t) {
  EXPECT_EQ(t.scalar_type(), at::kFloat);
  EXPECT_TRUE(t.device().is_cpu());
  at::Tensor d = t.to(at::kDouble);
  return std::vector<double>(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
}

TEST(ScheduleNodes, KarrasNodeIsTheFormulaRoundedToFloat32) {
  for (int n : kSteps) {
    auto r = runner().run("KarrasScheduler",
                          R"({"steps": )" + std::to_string(n) + R"(, "sigma_max": 80, "sigma_min": 0.002, "rho": 7})");
    ASSERT_TRUE(r.ok) << r.error;
    auto got = values(r.outputs[0].tensor());
    auto want = schedules::karras(n, 0.002, 80, 7);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(got[i], static_cast<double>(static_cast<float>(want[i])));
  }
}

TEST(ScheduleNodes, NodeErrorsNameTheInput) {
  auto r = runner().run("KarrasScheduler", R"({"steps": 5, "sigma_max": 0.001, "sigma_min": 0.002})");
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.error_input, "sigma_min");
  EXPECT_NE(r.error.find("must be < sigma_max"), std::string::npos) << r.error;
  auto s = runner().run("ExponentialScheduler", R"({"steps": 0})");
  ASSERT_FALSE(s.ok);
  EXPECT_EQ(s.error_type, "value_smaller_than_min");
}

TEST(ScheduleNodes, RegistryOffersComfyNamesInOrder) {
  auto names = runner().schedule_names();
  std::vector<std::string> comfy = {"simple", "sgm_uniform", "karras",           "exponential", "ddim_uniform",
                                    "beta",   "normal",      "linear_quadratic", "kl_optimal"};
  ASSERT_GE(names.size(), comfy.size());
  EXPECT_TRUE(std::equal(comfy.begin(), comfy.end(), names.begin()));
}

}  // namespace
}  // namespace sf
