// The ScoreOptimalScheduler node: SIGMAS convention, diagnostics, the cache (instant second run,
// corrupted entries ignored, unwritable folder warns), named schedules, bad inputs.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "sigmaflow/diagnostics.h"
#include "sigmaflow/testing/node_runner.h"

namespace sf {
namespace {

namespace fs = std::filesystem;

struct Env {
  Env() {
    cache = (fs::temp_directory_path() / "sigmaflow-so-node-cache").string();
    fs::remove_all(cache);
    setenv("SIGMAFLOW_CACHE_DIR", cache.c_str(), 1);
  }
  std::string cache;
};

testing::NodeRunner& runner() {
  static Env env;
  static testing::NodeRunner r({SF_PLUGIN_DIR});
  return r;
}

Value model(const std::string& json = R"({"preset": "ring8"})") {
  auto m = runner().run("GaussianMixtureModel", json);
  EXPECT_TRUE(m.ok) << m.error;
  return m.outputs.at(0);
}

std::vector<double> vec(const Value& v) {
  at::Tensor t = v.tensor().to(at::kDouble);
  return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

const char* kSmall = R"({"steps": 10, "grid_size": 64, "particles": 128, "seed": 4, "use_cache": false})";

TEST(ScoreOptimalNode, SigmasFollowTheConvention) {
  auto r = runner().run("ScoreOptimalScheduler", kSmall, {{"model", model()}});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.outputs[0].tensor().scalar_type(), at::kFloat);
  auto s = vec(r.outputs[0]);
  ASSERT_EQ(s.size(), 11u);
  EXPECT_FLOAT_EQ(s[0], 80.0f);
  EXPECT_FLOAT_EQ(s[9], 0.002f);
  EXPECT_EQ(s[10], 0.0);
  for (size_t i = 1; i < s.size(); ++i) EXPECT_LT(s[i], s[i - 1]);
  auto d = std::dynamic_pointer_cast<const ScheduleDiagnostics>(r.outputs[1].object());
  ASSERT_TRUE(d);
  EXPECT_EQ(d->grid.size(), 65u);
  EXPECT_EQ(d->interval_cost.size(), 64u);
  EXPECT_EQ(d->cumulative.size(), 65u);
  EXPECT_EQ(d->schedule.size(), 10u);
  EXPECT_EQ(d->step_cost.size(), 9u);
  EXPECT_GT(d->nfe, 2 * 64 * 128);
  EXPECT_FALSE(d->from_cache);
  // Same seed, same schedule.
  auto again = runner().run("ScoreOptimalScheduler", kSmall, {{"model", model()}});
  EXPECT_EQ(vec(again.outputs[0]), s);
}

TEST(ScoreOptimalNode, DenoiseFollowsBasicScheduler) {
  auto full =
      runner().run("ScoreOptimalScheduler", R"({"steps": 20, "grid_size": 64, "particles": 128, "use_cache": false})",
                   {{"model", model()}});
  auto half = runner().run("ScoreOptimalScheduler",
                           R"({"steps": 10, "denoise": 0.5, "grid_size": 64, "particles": 128, "use_cache": false})",
                           {{"model", model()}});
  ASSERT_TRUE(full.ok && half.ok) << full.error << half.error;
  auto f = vec(full.outputs[0]), h = vec(half.outputs[0]);
  ASSERT_EQ(h.size(), 11u);
  EXPECT_EQ(h, std::vector<double>(f.end() - 11, f.end()));
  auto none = runner().run("ScoreOptimalScheduler", R"({"denoise": 0.0, "use_cache": false})", {{"model", model()}});
  ASSERT_TRUE(none.ok);
  EXPECT_EQ(none.outputs[0].tensor().numel(), 0);
}

TEST(ScoreOptimalNode, SecondRunIsServedFromTheCacheAndSaysSo) {
  const char* cached = R"({"steps": 8, "grid_size": 64, "particles": 128, "seed": 9, "use_cache": true})";
  auto first = runner().run("ScoreOptimalScheduler", cached, {{"model", model()}});
  ASSERT_TRUE(first.ok) << first.error;
  auto d1 = std::dynamic_pointer_cast<const ScheduleDiagnostics>(first.outputs[1].object());
  EXPECT_FALSE(d1->from_cache);
  auto second = runner().run("ScoreOptimalScheduler", cached, {{"model", model()}});
  ASSERT_TRUE(second.ok);
  auto d2 = std::dynamic_pointer_cast<const ScheduleDiagnostics>(second.outputs[1].object());
  EXPECT_TRUE(d2->from_cache);
  EXPECT_EQ(vec(second.outputs[0]), vec(first.outputs[0]));
  ASSERT_FALSE(second.messages.empty());
  EXPECT_NE(second.messages[0].find("loaded from the cache"), std::string::npos);
  // Another step count reuses the same estimate.
  auto other = runner().run("ScoreOptimalScheduler", R"({"steps": 5, "grid_size": 64, "particles": 128, "seed": 9})",
                            {{"model", model()}});
  EXPECT_TRUE(std::dynamic_pointer_cast<const ScheduleDiagnostics>(other.outputs[1].object())->from_cache);
  // Corrupt every entry: ignored with a warning, re-estimated and rewritten.
  for (const auto& e : fs::directory_iterator(runner().output_dir() + "/.cache/score_optimal"))
    std::ofstream(e.path()) << "{\"key\": 12";
  auto third = runner().run("ScoreOptimalScheduler", cached, {{"model", model()}});
  ASSERT_TRUE(third.ok);
  EXPECT_FALSE(std::dynamic_pointer_cast<const ScheduleDiagnostics>(third.outputs[1].object())->from_cache);
  EXPECT_EQ(vec(third.outputs[0]), vec(first.outputs[0]));
  ASSERT_FALSE(third.messages.empty());
  EXPECT_NE(third.messages[0].find("corrupted"), std::string::npos) << third.messages[0];
  auto fourth = runner().run("ScoreOptimalScheduler", cached, {{"model", model()}});
  EXPECT_TRUE(std::dynamic_pointer_cast<const ScheduleDiagnostics>(fourth.outputs[1].object())->from_cache);
}

TEST(ScoreOptimalNode, UnwritableCacheWarnsAndRunsWithoutIt) {
  testing::NodeRunner locked({SF_PLUGIN_DIR}, "/proc/sigmaflow-no-cache-here");
  auto m = locked.run("GaussianMixtureModel", R"({"preset": "ring8"})");
  auto r = locked.run("ScoreOptimalScheduler", R"({"steps": 4, "grid_size": 16, "particles": 32})",
                      {{"model", m.outputs[0]}});
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_FALSE(r.messages.empty());
  EXPECT_NE(r.messages.back().find("cannot write the score-optimal cache"), std::string::npos) << r.messages.back();
}

TEST(ScoreOptimalNode, NamedSchedulesAreOfferedEverywhere) {
  auto names = runner().schedule_names();
  for (const char* n : {"score_optimal", "score_optimal_paper", "score_optimal_predictor"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  auto b = runner().run("BasicScheduler", R"({"scheduler": "score_optimal_paper", "steps": 6})", {{"model", model()}});
  ASSERT_TRUE(b.ok) << b.error;
  EXPECT_EQ(vec(b.outputs[0]).size(), 7u);
  auto p = runner().run("ScoreOptimalScheduler",
                        R"({"steps": 5, "cost": "predictor", "sampler": "heun", "particles": 64, "use_cache": false})",
                        {{"model", model()}});
  ASSERT_TRUE(p.ok) << p.error;
  auto s = vec(p.outputs[0]);
  ASSERT_EQ(s.size(), 6u);
  for (size_t i = 1; i < s.size(); ++i) EXPECT_LT(s[i], s[i - 1]);
}

TEST(ScoreOptimalNode, BadInputsAreClearErrors) {
  auto grid = runner().run("ScoreOptimalScheduler", R"({"steps": 50, "grid_size": 16})", {{"model", model()}});
  ASSERT_FALSE(grid.ok);
  EXPECT_EQ(grid.error_kind, "validation");  // a literal constraint: refused before anything runs
  EXPECT_EQ(grid.error_input, "steps");
  EXPECT_NE(grid.error.find("must be <= grid_size"), std::string::npos) << grid.error;
  auto steps = runner().run("ScoreOptimalScheduler", R"({"steps": 0})", {{"model", model()}});
  ASSERT_FALSE(steps.ok);
  EXPECT_EQ(steps.error_type, "value_smaller_than_min");
  auto data = runner().run("ScoreOptimalScheduler", R"({"steps": 4, "use_cache": false})",
                           {{"model", model()}, {"data", Value(std::make_shared<Latent>(at::zeros({10, 3})))}});
  ASSERT_FALSE(data.ok);
  EXPECT_EQ(data.error_input, "data");
  // A model whose denoiser returns NaN below sigma 0.1: the error names the sigma.
  class NanModel : public Model {
   public:
    NanModel() : Model(info()) {}

   protected:
    at::Tensor denoise_batch(const at::Tensor& x, const NoiseLevels& s, const Conditioning&) const override {
      return at::where((s.to_tensor(x.size(0), at::kDouble) < 0.1).view({-1, 1}), at::full_like(x, NAN), x * 0.5);
    }

   private:
    static ModelInfo info() {
      ModelInfo i;
      i.sigma_min = 0.01;
      i.sigma_max = 10;
      i.sample_shape = {2};
      i.fingerprint = "nan-model";
      return i;
    }
  };
  auto nan =
      runner().run("ScoreOptimalScheduler", R"({"steps": 4, "grid_size": 16, "particles": 16, "use_cache": false})",
                   {{"model", Value(std::shared_ptr<const Object>(std::make_shared<NanModel>()))}});
  ASSERT_FALSE(nan.ok);
  EXPECT_EQ(nan.error_input, "model");
  EXPECT_NE(nan.error.find("NaN or Inf at sigma = 0.0"), std::string::npos) << nan.error;
  auto range = runner().run("GaussianMixtureModel", R"({"preset": "ring8", "sigma_min": 5, "sigma_max": 5})");
  ASSERT_FALSE(range.ok);
  EXPECT_EQ(range.error_input, "sigma_min");
}

}  // namespace
}  // namespace sf
