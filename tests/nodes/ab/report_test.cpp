// ScheduleSweep and CompareReport: a small sweep end to end, file outputs, bad inputs.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "sigmaflow/report.h"
#include "sigmaflow/testing/node_runner.h"

namespace sf {
namespace {

namespace fs = std::filesystem;

testing::NodeRunner& runner() {
  static testing::NodeRunner r({SF_PLUGIN_DIR});
  return r;
}

Value ring_model() {
  auto m = runner().run("GaussianMixtureModel", R"({"preset": "ring8", "dtype": "float64"})");
  EXPECT_TRUE(m.ok) << m.error;
  return m.outputs.at(0);
}

const char* kSmallSweep =
    R"({"schedulers": "karras, exponential, score_optimal", "samplers": "euler, heun, euler_ancestral",
  "steps_list": "4, 8", "batch": 200, "seed": 1, "reference_steps": 200, "projections": 32})";

TEST(ScheduleSweep, RunsEveryCellFromOneNoiseWithMetrics) {
  auto r = runner().run("ScheduleSweep", kSmallSweep, {{"model", ring_model()}});
  ASSERT_TRUE(r.ok) << r.error;
  auto rep = std::dynamic_pointer_cast<const Report>(r.outputs[0].object());
  ASSERT_EQ(rep->cells.size(), 3u * 3u * 2u);
  for (const auto& c : rep->cells) {
    EXPECT_EQ(c.metrics.count("trajectory_error"), c.sampler == "euler_ancestral" ? 0u : 1u) << c.sampler;
    EXPECT_EQ(c.metrics.count("sliced_wasserstein"), 1u);
    EXPECT_EQ(c.metrics.count("mode_coverage_tv"), 1u);
    EXPECT_EQ(c.sigmas.size(), static_cast<size_t>(c.steps + 1));
    EXPECT_EQ(c.nfe, c.sampler == "heun" ? 2 * c.steps - 1 : c.steps);
  }
  // Error falls with steps for a deterministic sampler.
  double e4 = 0, e8 = 0;
  for (const auto& c : rep->cells)
    if (c.schedule == "karras" && c.sampler == "heun") (c.steps == 4 ? e4 : e8) = c.metrics.at("trajectory_error");
  EXPECT_LT(e8, e4);
  EXPECT_GT(rep->timings.at("model_evaluation_seconds"), 0.0);
}

TEST(ScheduleSweep, BadNamesAndReferenceStepsAreRefused) {
  auto sched = runner().run("ScheduleSweep", R"({"schedulers": "karras, bogus"})", {{"model", ring_model()}});
  ASSERT_FALSE(sched.ok);
  EXPECT_EQ(sched.error_input, "schedulers");
  EXPECT_NE(sched.error.find("unknown scheduler 'bogus'"), std::string::npos) << sched.error;
  auto samp = runner().run("ScheduleSweep", R"({"samplers": "euler, warp"})", {{"model", ring_model()}});
  ASSERT_FALSE(samp.ok);
  EXPECT_EQ(samp.error_input, "samplers");
  auto ref =
      runner().run("ScheduleSweep", R"({"steps_list": "5, 50", "reference_steps": 20})", {{"model", ring_model()}});
  ASSERT_FALSE(ref.ok);
  EXPECT_EQ(ref.error_input, "reference_steps");
  auto steps = runner().run("ScheduleSweep", R"({"steps_list": "5, x"})", {{"model", ring_model()}});
  ASSERT_FALSE(steps.ok);
  EXPECT_EQ(steps.error_input, "steps_list");
}

TEST(CompareReport, WritesMarkdownJsonAndPlotsAtomically) {
  auto sweep = runner().run("ScheduleSweep", kSmallSweep, {{"model", ring_model()}});
  ASSERT_TRUE(sweep.ok) << sweep.error;
  auto diag =
      runner().run("ScoreOptimalScheduler", R"({"steps": 8, "grid_size": 64, "particles": 64, "use_cache": false})",
                   {{"model", ring_model()}});
  ASSERT_TRUE(diag.ok) << diag.error;
  auto r = runner().run("CompareReport", R"({"title": "t", "filename_prefix": "rep/small"})",
                        {{"report", sweep.outputs[0]}, {"diagnostics", diag.outputs[1]}});
  ASSERT_TRUE(r.ok) << r.error;
  std::string base = runner().output_dir() + "/rep/small";
  for (const char* ext : {".md", ".json", "_error_vs_nfe_heun.png", "_error_vs_nfe_heun.svg", "_schedules.png",
                          "_cost.png", "_length.svg"})
    EXPECT_TRUE(fs::exists(base + ext) && fs::file_size(base + ext) > 100) << ext;
  std::ifstream png(base + "_schedules.png", std::ios::binary);
  char magic[8];
  png.read(magic, 8);
  EXPECT_EQ(std::string(magic + 1, 3), "PNG");
  auto j = nlohmann::json::parse(std::ifstream(base + ".json"));
  EXPECT_EQ(j["cells"].size(), 18u);
  EXPECT_EQ(j["diagnostics"].size(), 1u);
  std::ifstream md(base + ".md");
  std::string text((std::istreambuf_iterator<char>(md)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("| schedule | sampler | 4 steps | 8 steps |"), std::string::npos);
  EXPECT_NE(text.find("vs best stock"), std::string::npos);
  EXPECT_NE(text.find("**"), std::string::npos);
  ASSERT_FALSE(r.messages.empty());
  EXPECT_NE(r.messages[0].find("trajectory_error"), std::string::npos);
  for (const auto& e : fs::directory_iterator(runner().output_dir() + "/rep"))
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
}

TEST(CompareReport, MetricsAloneAndBadInputs) {
  at::Tensor a = at::zeros({4, 2}, at::kDouble);
  auto te = runner().run(
      "TrajectoryError", "{}",
      {{"samples", Value(std::make_shared<Latent>(a))}, {"reference", Value(std::make_shared<Latent>(a + 1))}});
  ASSERT_TRUE(te.ok);
  auto r = runner().run("CompareReport", R"({"filename_prefix": "metrics_only"})", {{"metric_1", te.outputs[0]}});
  ASSERT_TRUE(r.ok) << r.error;
  auto nothing = runner().run("CompareReport", "{}");
  ASSERT_FALSE(nothing.ok);
  EXPECT_EQ(nothing.error_input, "report");
  testing::NodeRunner locked({SF_PLUGIN_DIR}, "/proc/sigmaflow-no-such-place");
  auto unwritable = locked.run("CompareReport", R"({"filename_prefix": "x"})", {{"metric_1", te.outputs[0]}});
  ASSERT_FALSE(unwritable.ok);
  EXPECT_EQ(unwritable.error_input, "filename_prefix");
  EXPECT_NE(unwritable.error.find("/proc/sigmaflow-no-such-place"), std::string::npos) << unwritable.error;
}

}  // namespace
}  // namespace sf
