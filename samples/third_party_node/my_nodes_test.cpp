// Tests for the example nodes with the SDK's NodeRunner harness.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <sigmaflow/testing/node_runner.h>

#include <cmath>

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

TEST(MySampler, IsOfferedByTheStockSamplerNodes) {
  auto names = runner().sampler_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "ralston"), names.end());
  EXPECT_EQ(ralston()->traits().order, 2);
}

}  // namespace
