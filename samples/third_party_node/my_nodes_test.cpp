// Tests for the example nodes with the SDK's NodeRunner harness.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <sigmaflow/testing/node_runner.h>

#include <cmath>
#include <cstdio>

namespace {

sf::testing::NodeRunner& runner() {
  static sf::testing::NodeRunner r({STOCK_PLUGINS, MY_PLUGIN});
  return r;
}

std::vector<double> values(const sf::Value& v) {
  at::Tensor t = v.tensor().to(at::kDouble);
  return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

TEST(MyNodes, LoadCleanly) { EXPECT_TRUE(runner().load_problems().empty()); }

TEST(MyNodes, CustomValueFlowsBetweenNodes) {
  auto range = runner().run("SigmaRange", R"({"sigma_min": 0.1, "sigma_max": 10})");
  ASSERT_TRUE(range.ok) << range.error;
  EXPECT_EQ(range.outputs[0].type(), "SIGMA_RANGE");
  auto s = runner().run("RangeCosineScheduler", R"({"steps": 3})", {{"range", range.outputs[0]}});
  ASSERT_TRUE(s.ok) << s.error;
  auto v = values(s.outputs[0]);
  ASSERT_EQ(v.size(), 4u);
  EXPECT_NEAR(v[0], 10.0, 1e-5);
  EXPECT_NEAR(v[1], 1.0, 1e-6);  // the half-cosine midpoint is the geometric mean
  EXPECT_NEAR(v[2], 0.1, 1e-6);
  EXPECT_EQ(v[3], 0.0);
}

TEST(MyNodes, NamedScheduleAppearsInBasicScheduler) {
  auto names = runner().schedule_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "cosine"), names.end());
  auto model = runner().run("GaussianMixtureModel", R"({"preset": "ring8"})");
  ASSERT_TRUE(model.ok) << model.error;
  auto s = runner().run("BasicScheduler", R"({"scheduler": "cosine", "steps": 5})", {{"model", model.outputs[0]}});
  ASSERT_TRUE(s.ok) << s.error;
  EXPECT_EQ(values(s.outputs[0]).size(), 6u);
}

TEST(MyNodes, BadInputNamesTheInput) {
  auto r = runner().run("SigmaRange", R"({"sigma_min": 5, "sigma_max": 1})");
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.error_kind, "validation");  // the contract's constraint, checked before running
  EXPECT_EQ(r.error_input, "sigma_min");
}

// N(0, 1) data: D(x, s) = x / (1 + s^2), and the ODE maps x(s0) to sqrt((1 + s^2)/(1 + s0^2)) x(s0).
std::shared_ptr<const sf::Sampler> ralston() {
  auto r = runner().run("KSamplerSelect", R"({"sampler_name": "ralston"})");
  EXPECT_TRUE(r.ok) << r.error;
  return std::dynamic_pointer_cast<const sf::Sampler>(r.outputs.at(0).object());
}
std::shared_ptr<const sf::Model> unit_gaussian() {
  auto m = runner().run(
      "GaussianMixtureModel",
      R"({"preset": "custom", "means": {"__value__": [[0]]}, "stds": {"__value__": [1]}, "dtype": "float64"})");
  EXPECT_TRUE(m.ok) << m.error;
  return std::dynamic_pointer_cast<const sf::Model>(m.outputs.at(0).object());
}

TEST(MySampler, FinalStepReturnsTheDenoisedEstimateWithOneEvaluation) {
  auto model = unit_gaussian();
  sf::SampleContext ctx;
  at::Tensor x = at::full({3, 1}, 1.5, at::kDouble);
  at::Tensor out = ralston()->sample(*model, x, {2.0, 0.0}, ctx);
  EXPECT_LT((out - x / 5).abs().max().item<double>(), 1e-12);
  EXPECT_EQ(ctx.nfe, 1);
}

TEST(MySampler, IsSecondOrderAgainstTheExactOdeSolution) {
  auto model = unit_gaussian();
  auto error_at = [&](int n) {
    std::vector<double> s;  // geometric from 80 to 0.05, no final 0: compare the ODE state itself
    for (int i = 0; i <= n; ++i) s.push_back(80.0 * std::pow(0.05 / 80.0, static_cast<double>(i) / n));
    sf::SampleContext ctx;
    at::Tensor x0 = at::full({1, 1}, 80.0, at::kDouble);
    double got = ralston()->sample(*model, x0, s, ctx).item<double>();
    EXPECT_EQ(ctx.nfe, 2 * n);
    return std::fabs(got - 80.0 * std::sqrt((1 + 0.05 * 0.05) / (1 + 80.0 * 80.0)));
  };
  double order = std::log2(error_at(32) / error_at(64));
  EXPECT_NEAR(order, 2.0, 0.2);
}

// optimal_steps serves ralston through its step form. Measured on fresh noise against a converged
// reference (heun, 400 karras steps): the optimised schedule beats every stock schedule tried.
TEST(MySampler, OptimalStepsBeatsStockSchedulesForIt) {
  auto ring8 = runner().run("GaussianMixtureModel", R"({"preset": "ring8", "dtype": "float64"})");
  ASSERT_TRUE(ring8.ok) << ring8.error;
  auto model = std::dynamic_pointer_cast<const sf::Model>(ring8.outputs.at(0).object());
  auto heun = runner().run("KSamplerSelect", R"({"sampler_name": "heun"})");
  ASSERT_TRUE(heun.ok) << heun.error;
  at::Tensor noise = at::randn({2000, 2}, at::make_generator<at::CPUGeneratorImpl>(12345), at::kDouble) * 80.0;
  auto run = [&](const sf::Sampler& smp, const sf::Value& sigmas) {
    sf::SampleContext ctx;
    return smp.sample(*model, noise, values(sigmas), ctx);
  };
  auto fine = runner().run("KarrasScheduler", R"({"steps": 400, "sigma_max": 80, "sigma_min": 0.002})");
  ASSERT_TRUE(fine.ok) << fine.error;
  at::Tensor reference =
      run(*std::dynamic_pointer_cast<const sf::Sampler>(heun.outputs.at(0).object()), fine.outputs.at(0));
  auto error = [&](const sf::Value& sigmas) {
    return (run(*ralston(), sigmas) - reference).pow(2).sum(1).mean().sqrt().item<double>();
  };
  for (int steps : {5, 10}) {
    const std::string n = std::to_string(steps);
    auto optimal = runner().run(
        "OptimalStepsScheduler",
        R"({"steps": )" + n + R"(, "max_steps": 10, "grid_size": 64, "training_noises": 128, "use_cache": false})",
        {{"model", ring8.outputs[0]},
         {"sampler", runner().run("KSamplerSelect", R"({"sampler_name": "ralston"})").outputs.at(0)}});
    ASSERT_TRUE(optimal.ok) << optimal.error;
    const double ours = error(optimal.outputs[0]);
    std::printf("ralston N=%d: optimal_steps %.4g", steps, ours);
    for (const char* stock : {"karras", "exponential", "kl_optimal", "simple"}) {
      auto s = runner().run("BasicScheduler", R"({"scheduler": ")" + std::string(stock) + R"(", "steps": )" + n + "}",
                            {{"model", ring8.outputs[0]}});
      ASSERT_TRUE(s.ok) << s.error;
      const double theirs = error(s.outputs[0]);
      std::printf(", %s %.4g", stock, theirs);
      EXPECT_LT(ours, theirs) << stock << " N=" << steps;
    }
    std::printf("\n");
  }
}

TEST(MySampler, IsOfferedByTheStockSamplerNodes) {
  auto names = runner().sampler_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "ralston"), names.end());
  EXPECT_EQ(ralston()->traits().order, 2);
}

}  // namespace
