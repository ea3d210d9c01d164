// Sigma tools and named schedules through the schedulers plugin.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "sigmaflow/diffusion/sigmas.h"
#include "sigmaflow/testing/node_runner.h"
#include "support/gaussian_reference.h"

namespace sf {
namespace {

testing::NodeRunner& runner() {
  static testing::NodeRunner r({SF_PLUGIN_DIR});
  return r;
}

std::vector<double> schedules_karras_for_test(int n) {
  // GaussianModel's range is (0.002, 80); karras with rho 7.
  std::vector<double> out;
  for (int i = 0; i < n; ++i) {
    double r = n == 1 ? 0.0 : static_cast<double>(i) / (n - 1);
    out.push_back(std::pow(std::pow(80.0, 1 / 7.0) + r * (std::pow(0.002, 1 / 7.0) - std::pow(80.0, 1 / 7.0)), 7.0));
  }
  out.push_back(0);
  return out;
}

void expect_rel(const std::vector<double>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6 * std::fabs(want[i])) << i;
}

Value sig(const std::vector<double>& s) { return diffusion::Sigmas(s).to_value(); }
std::vector<double> vec(const Value& v) { return diffusion::Sigmas::from_tensor(v.tensor()).values(); }
std::vector<double> f32(std::vector<double> s) {
  for (double& v : s) v = static_cast<double>(static_cast<float>(v));
  return s;
}

TEST(SigmaTools, SplitSigmasSharesTheSplitPoint) {
  auto r = runner().run("SplitSigmas", R"({"step": 2})", {{"sigmas", sig({5, 4, 3, 2, 0})}});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(vec(r.outputs[0]), (std::vector<double>{5, 4, 3}));
  EXPECT_EQ(vec(r.outputs[1]), (std::vector<double>{3, 2, 0}));
}

TEST(SigmaTools, SplitSigmasDenoiseFollowsComfy) {
  auto r = runner().run("SplitSigmasDenoise", R"({"denoise": 0.5})", {{"sigmas", sig({5, 4, 3, 2, 0})}});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(vec(r.outputs[0]), (std::vector<double>{5, 4, 3}));  // sigmas[:-2]
  EXPECT_EQ(vec(r.outputs[1]), (std::vector<double>{3, 2, 0}));  // sigmas[-3:]
  auto z = runner().run("SplitSigmasDenoise", R"({"denoise": 0.0})", {{"sigmas", sig({5, 4, 0})}});
  ASSERT_TRUE(z.ok);
  EXPECT_TRUE(vec(z.outputs[0]).empty());
  EXPECT_EQ(vec(z.outputs[1]), (std::vector<double>{0}));
}

TEST(SigmaTools, FlipAndSetFirst) {
  auto f = runner().run("FlipSigmas", "{}", {{"sigmas", sig({3, 1, 0})}});
  ASSERT_TRUE(f.ok);
  EXPECT_EQ(vec(f.outputs[0]), f32({0.0001, 1, 3}));
  auto s = runner().run("SetFirstSigma", R"({"sigma": 20})", {{"sigmas", sig({3, 1, 0})}});
  ASSERT_TRUE(s.ok);
  EXPECT_EQ(vec(s.outputs[0]), (std::vector<double>{20, 1, 0}));
  auto e = runner().run("SetFirstSigma", R"({"sigma": 20})", {{"sigmas", sig({})}});
  ASSERT_FALSE(e.ok);
  EXPECT_EQ(e.error_input, "sigmas");
}

TEST(SigmaTools, ManualSigmasParsesAndRefusesBadLists) {
  auto r = runner().run("ManualSigmas", R"({"sigmas": "14.6, 7 3.5,1;0"})");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(vec(r.outputs[0]), f32({14.6, 7, 3.5, 1, 0}));
  for (const char* bad : {R"("1, x, 0")", R"("1, 2, 0")", R"("1, -0.5")", R"("1, nan")", R"("")"}) {
    auto b = runner().run("ManualSigmas", std::string(R"({"sigmas": )") + bad + "}");
    EXPECT_FALSE(b.ok) << bad;
    EXPECT_EQ(b.error_input, "sigmas") << bad;
  }
}

TEST(SigmaTools, ResampleSigmasIsLogLinearAndRefusesZeros) {
  auto r = runner().run("ResampleSigmas", R"({"steps": 2, "zero_last": false})", {{"sigmas", sig({16, 1})}});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(vec(r.outputs[0]), (std::vector<double>{16, 4, 1}));
  auto z = runner().run("ResampleSigmas", R"({"steps": 4})", {{"sigmas", sig({16, 1, 0})}});
  ASSERT_FALSE(z.ok);
  EXPECT_EQ(z.error_input, "sigmas");
  EXPECT_NE(z.error.find("ending in 0 cannot be log-resampled"), std::string::npos) << z.error;
}

TEST(SigmaTools, SaveThenLoadRoundTripsBitExact) {
  std::vector<double> s = diffusion::Sigmas({80, 17.5278, 2.51522, 0.169753, 0.002, 0}).rounded_to_float32().values();
  auto w = runner().run("SaveSigmas", R"({"filename_prefix": "rt/karras"})", {{"sigmas", sig(s)}});
  ASSERT_TRUE(w.ok) << w.error;
  ASSERT_EQ(w.files.size(), 2u);
  for (const auto& f : w.files) {
    auto r = runner().run("LoadSigmas", R"({"path": ")" + f + R"("})");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(vec(r.outputs[0]), s) << f;
  }
  auto missing = runner().run("LoadSigmas", R"({"path": "/nonexistent/s.json"})");
  ASSERT_FALSE(missing.ok);
  EXPECT_EQ(missing.error_input, "path");
  std::string bad = runner().output_dir() + "/bad.csv";
  std::ofstream(bad) << "sigma\n3\n5\n0\n";
  auto asc = runner().run("LoadSigmas", R"({"path": ")" + bad + R"("})");
  ASSERT_FALSE(asc.ok);
  EXPECT_NE(asc.error.find("strictly descending"), std::string::npos) << asc.error;
}

TEST(BasicScheduler, NamedSchedulesAndTheDenoiseRule) {
  auto model = std::make_shared<test::GaussianModel>(1.0, 2);
  Value mv{std::shared_ptr<const Object>(model)};
  auto full =
      runner().run("BasicScheduler", R"({"scheduler": "karras", "steps": 20, "denoise": 1.0})", {{"model", mv}});
  ASSERT_TRUE(full.ok) << full.error;
  expect_rel(vec(full.outputs[0]), schedules_karras_for_test(20));
  // denoise 0.5: int(10 / 0.5) = 20 steps, keep the last 11 values.
  auto half =
      runner().run("BasicScheduler", R"({"scheduler": "karras", "steps": 10, "denoise": 0.5})", {{"model", mv}});
  ASSERT_TRUE(half.ok);
  auto all = schedules_karras_for_test(20);
  expect_rel(vec(half.outputs[0]), std::vector<double>(all.end() - 11, all.end()));
  auto none =
      runner().run("BasicScheduler", R"({"scheduler": "karras", "steps": 10, "denoise": 0.0})", {{"model", mv}});
  ASSERT_TRUE(none.ok);
  EXPECT_EQ(none.outputs[0].tensor().numel(), 0);
  // Every registered name computes a valid descending schedule on a continuous model.
  for (const auto& name : runner().schedule_names()) {
    auto r = runner().run("BasicScheduler", R"({"scheduler": ")" + name + R"(", "steps": 10})", {{"model", mv}});
    ASSERT_TRUE(r.ok) << name << ": " << r.error;
    auto s = vec(r.outputs[0]);
    EXPECT_NO_THROW(diffusion::Sigmas(s).check_sampling("s")) << name;
    EXPECT_EQ(s.back(), 0.0) << name;
  }
  auto unknown = runner().run("BasicScheduler", R"({"scheduler": "nope"})", {{"model", mv}});
  ASSERT_FALSE(unknown.ok);
  EXPECT_EQ(unknown.error_type, "value_not_in_list");
}

}  // namespace
}  // namespace sf
