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
  EXPECT_EQ(r.error_input, "sigma_min");
}

}  // namespace
