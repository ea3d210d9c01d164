// The OptimalStepsScheduler node and the named schedule optimal_steps: SIGMAS convention,
// diagnostics, denoise, the cache, use through BasicScheduler / KSampler / ScheduleSweep, bad
// inputs.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>

#include <fstream>
#include <nlohmann/json.hpp>

#include "sigmaflow/diagnostics.h"
#include "sigmaflow/diffusion/sigmas.h"
#include "sigmaflow/scheduler/optimal_steps/optimal_steps.h"
#include "sigmaflow/testing/node_runner.h"

namespace sf {
namespace {

namespace fs = std::filesystem;

testing::NodeRunner& runner() {
  static std::string cache = [] {
    std::string c = (fs::temp_directory_path() / "sigmaflow-oss-node-cache").string();
    fs::remove_all(c);
    setenv("SIGMAFLOW_CACHE_DIR", c.c_str(), 1);
    return c;
  }();
  static testing::NodeRunner r({SF_PLUGIN_DIR});
  return r;
}

Value model() {
  auto m = runner().run("GaussianMixtureModel", R"({"preset": "ring8", "dtype": "float64"})");
  EXPECT_TRUE(m.ok) << m.error;
  return m.outputs.at(0);
}

Value sampler(const std::string& name) {
  auto s = runner().run("KSamplerSelect", R"({"sampler_name": ")" + name + "\"}");
  EXPECT_TRUE(s.ok) << s.error;
  return s.outputs.at(0);
}

std::vector<double> vec(const Value& v) {
  at::Tensor t = v.tensor().to(at::kDouble);
  return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

std::string small(int steps, const std::string& extra = "") {
  return R"({"steps": )" + std::to_string(steps) +
         R"(, "max_steps": 12, "grid_size": 32, "training_noises": 64, "use_cache": false)" + extra + "}";
}

TEST(OptimalStepsNode, SigmasAndDiagnostics) {
  auto r = runner().run("OptimalStepsScheduler", small(8), {{"model", model()}, {"sampler", sampler("dpmpp_2m")}});
  ASSERT_TRUE(r.ok) << r.error;
  auto s = vec(r.outputs[0]);
  ASSERT_EQ(s.size(), 9u);
  EXPECT_FLOAT_EQ(s[0], 80.0f);
  EXPECT_FLOAT_EQ(s[7], 0.002f);
  EXPECT_EQ(s[8], 0.0);
  for (size_t i = 1; i < s.size(); ++i) EXPECT_LT(s[i], s[i - 1]);
  auto d = std::dynamic_pointer_cast<const ScheduleDiagnostics>(r.outputs[1].object());
  ASSERT_TRUE(d);
  EXPECT_EQ(d->grid.size(), 33u);
  EXPECT_EQ(d->schedule.size(), 8u);
  ASSERT_EQ(d->training_error.size(), 12u);
  // More steps never hurt much on the training noises; 12 steps beat 2 by far.
  EXPECT_LT(d->training_error[11], d->training_error[1] / 4);
  EXPECT_GT(d->nfe, 64 * 32 * 4 * 2);
  EXPECT_NE(d->method.find("optimal_steps dpmpp_2m"), std::string::npos);
}

TEST(OptimalStepsNode, DenoiseKeepsTheTailAndTheCacheServesEveryN) {
  const std::string cached = R"(, "use_cache": true, "seed": 3)";
  auto full = runner().run("OptimalStepsScheduler",
                           R"({"steps": 10, "max_steps": 12, "grid_size": 32, "training_noises": 64)" + cached + "}",
                           {{"model", model()}, {"sampler", sampler("euler")}});
  ASSERT_TRUE(full.ok) << full.error;
  EXPECT_FALSE(std::dynamic_pointer_cast<const ScheduleDiagnostics>(full.outputs[1].object())->from_cache);
  auto half = runner().run(
      "OptimalStepsScheduler",
      R"({"steps": 5, "denoise": 0.5, "max_steps": 12, "grid_size": 32, "training_noises": 64)" + cached + "}",
      {{"model", model()}, {"sampler", sampler("euler")}});
  ASSERT_TRUE(half.ok) << half.error;
  auto f = vec(full.outputs[0]), h = vec(half.outputs[0]);
  ASSERT_EQ(h.size(), 6u);
  EXPECT_EQ(h, std::vector<double>(f.end() - 6, f.end()));
  auto d = std::dynamic_pointer_cast<const ScheduleDiagnostics>(half.outputs[1].object());
  EXPECT_TRUE(d->from_cache);
  EXPECT_EQ(d->nfe, 0);
}

TEST(OptimalStepsNode, NamedScheduleUsesTheSamplerItRunsWith) {
  auto names = runner().schedule_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "optimal_steps"), names.end());
  auto b = runner().run("BasicScheduler", R"({"scheduler": "optimal_steps", "steps": 6})", {{"model", model()}});
  ASSERT_TRUE(b.ok) << b.error;
  EXPECT_EQ(vec(b.outputs[0]).size(), 7u);
  auto latent = runner().run("EmptyLatent", R"({"batch_size": 16})", {{"model", model()}});
  ASSERT_TRUE(latent.ok) << latent.error;
  auto k =
      runner().run("KSampler", R"({"seed": 1, "steps": 6, "sampler_name": "dpmpp_2m", "scheduler": "optimal_steps"})",
                   {{"model", model()}, {"latent_image", latent.outputs[0]}});
  ASSERT_TRUE(k.ok) << k.error;
  auto latent_out = std::dynamic_pointer_cast<const Latent>(k.outputs[0].object());
  ASSERT_TRUE(latent_out);
  // dpmpp_2m's schedule differs from euler's (the DP carries each sampler's own state).
  EXPECT_NE(latent_out->sigmas, vec(b.outputs[0]));
  EXPECT_EQ(latent_out->sigmas.size(), 7u);
}

// API 3.3: OptimalStepsOptions configures the named optimal_steps where a node picks it by name,
// and gives exactly what OptimalStepsScheduler gives with the same settings and sampler.
TEST(OptimalStepsNode, OptionsConfigureTheNamedScheduleWhereItIsUsed) {
  const std::string settings = R"("max_steps": 12, "grid_size": 32, "training_noises": 64, "use_cache": false,
                                  "selection": "off", "seed": 5)";
  auto opts = runner().run("OptimalStepsOptions", "{" + settings + "}");
  ASSERT_TRUE(opts.ok) << opts.error;
  EXPECT_EQ(opts.outputs[0].type(), "SCHEDULE_OPTIONS");
  EXPECT_NE(opts.outputs[0].object()->describe().find("training_noises 64"), std::string::npos);
  auto direct = [&](const std::string& sampler_name) {
    auto r = runner().run("OptimalStepsScheduler", R"({"steps": 6, )" + settings + "}",
                          {{"model", model()}, {"sampler", sampler(sampler_name)}});
    EXPECT_TRUE(r.ok) << r.error;
    return vec(r.outputs[0]);
  };
  // BasicScheduler names no sampler: euler.
  auto basic = runner().run("BasicScheduler", R"({"scheduler": "optimal_steps", "steps": 6})",
                            {{"model", model()}, {"schedule_options", opts.outputs[0]}});
  ASSERT_TRUE(basic.ok) << basic.error;
  const std::vector<double> euler = direct("euler");
  EXPECT_EQ(vec(basic.outputs[0]), euler);
  // KSampler: the schedule for the sampler it runs.
  auto latent = runner().run("EmptyLatent", R"({"batch_size": 4})", {{"model", model()}});
  ASSERT_TRUE(latent.ok) << latent.error;
  auto k =
      runner().run("KSampler", R"({"seed": 1, "steps": 6, "sampler_name": "dpmpp_2m", "scheduler": "optimal_steps"})",
                   {{"model", model()}, {"latent_image", latent.outputs[0]}, {"schedule_options", opts.outputs[0]}});
  ASSERT_TRUE(k.ok) << k.error;
  auto latent_out = std::dynamic_pointer_cast<const Latent>(k.outputs[0].object());
  ASSERT_TRUE(latent_out);
  const std::vector<double> dpmpp_2m = direct("dpmpp_2m");
  EXPECT_EQ(latent_out->sigmas, dpmpp_2m);
  EXPECT_NE(dpmpp_2m, euler);
  // The settings are used: another grid (35 intervals, which do not hold the 32-interval grid's
  // points) moves the schedule.
  auto other = runner().run("OptimalStepsOptions", R"({"max_steps": 12, "grid_size": 35, "training_noises": 64,
                                                      "use_cache": false, "selection": "off", "seed": 5})");
  ASSERT_TRUE(other.ok) << other.error;
  auto moved = runner().run("BasicScheduler", R"({"scheduler": "optimal_steps", "steps": 6})",
                            {{"model", model()}, {"schedule_options", other.outputs[0]}});
  ASSERT_TRUE(moved.ok) << moved.error;
  EXPECT_NE(vec(moved.outputs[0]), euler);
}

TEST(OptimalStepsNode, OptionsForAnotherScheduleOrUnfitSettingsAreClearErrors) {
  auto opts = runner().run("OptimalStepsOptions", R"({"grid_size": 8, "use_cache": false})");
  ASSERT_TRUE(opts.ok) << opts.error;
  const Value options = opts.outputs[0];
  // Connected where another schedule is chosen: never silently ignored.
  auto karras = runner().run("BasicScheduler", R"({"scheduler": "karras", "steps": 6})",
                             {{"model", model()}, {"schedule_options", options}});
  ASSERT_FALSE(karras.ok);
  EXPECT_EQ(karras.error_input, "schedule_options");
  EXPECT_NE(karras.error.find("options for the schedule 'optimal_steps'"), std::string::npos) << karras.error;
  EXPECT_NE(karras.error.find("'karras'"), std::string::npos) << karras.error;
  auto latent = runner().run("EmptyLatent", R"({"batch_size": 4})", {{"model", model()}});
  ASSERT_TRUE(latent.ok) << latent.error;
  auto k = runner().run("KSampler", R"({"seed": 1, "steps": 6, "sampler_name": "euler", "scheduler": "exponential"})",
                        {{"model", model()}, {"latent_image", latent.outputs[0]}, {"schedule_options", options}});
  ASSERT_FALSE(k.ok);
  EXPECT_EQ(k.error_input, "schedule_options");
  auto sweep = runner().run("ScheduleSweep", R"({"schedulers": "karras", "samplers": "euler", "steps_list": "5"})",
                            {{"model", model()}, {"schedule_options", options}});
  ASSERT_FALSE(sweep.ok);
  EXPECT_EQ(sweep.error_input, "schedule_options");
  EXPECT_NE(sweep.error.find("not in schedulers"), std::string::npos) << sweep.error;
  // Settings that do not fit the step count used: the optimiser's own message, about the options.
  auto unfit = runner().run("BasicScheduler", R"({"scheduler": "optimal_steps", "steps": 20})",
                            {{"model", model()}, {"schedule_options", options}});
  ASSERT_FALSE(unfit.ok);
  EXPECT_EQ(unfit.error_input, "schedule_options");
  EXPECT_NE(unfit.error.find("grid_size"), std::string::npos) << unfit.error;
}

Value sigmas_value(const std::vector<double>& v) { return diffusion::Sigmas(v).to_value(); }

// Held-out selection through the node: every candidate in the diagnostics, an extra SIGMAS among
// them, the table in CompareReport's Markdown and JSON; bad selection inputs name the input.
TEST(OptimalStepsNode, HeldOutSelectionReachesTheDiagnosticsAndTheReport) {
  std::vector<double> extra{80.0, 20.0, 5.0, 1.0, 0.2, 0.05, 0.01, 0.002, 0.0};
  auto r = runner().run("OptimalStepsScheduler", small(8, R"(, "candidates": "karras, exponential")"),
                        {{"model", model()}, {"sampler", sampler("euler")}, {"extra_sigmas_1", sigmas_value(extra)}});
  ASSERT_TRUE(r.ok) << r.error;
  auto d = std::dynamic_pointer_cast<const oss::OptimalStepsDiagnostics>(r.outputs[1].object());
  ASSERT_TRUE(d && d->selected);
  const auto& sel = d->selection;
  ASSERT_EQ(sel.scores.size(), 4u);
  EXPECT_EQ(sel.scores[0].label, "optimal_steps");
  EXPECT_EQ(sel.scores[3].label, "extra_sigmas_1");
  EXPECT_TRUE(sel.held_out == 256 || sel.held_out == 512) << sel.held_out;  // automatic: 256, 512 in a tie
  // What the node returned is the chosen candidate, rounded to float32 as SIGMAS are.
  auto out = vec(r.outputs[0]);
  ASSERT_EQ(out.size(), 9u);
  for (size_t i = 0; i < out.size(); ++i)
    EXPECT_FLOAT_EQ(static_cast<float>(out[i]), static_cast<float>(sel.scores[sel.chosen].sigmas[i]));
  // Stock and connected schedules are baselines, always eligible; the chosen one has the lowest RMS
  // among the eligible candidates.
  for (size_t c = 1; c < sel.scores.size(); ++c) EXPECT_TRUE(sel.scores[c].eligible) << sel.scores[c].label;
  for (const auto& sc : sel.scores) {
    EXPECT_GE(sc.mode_tv, 0.0);
    EXPECT_LE(sc.mode_tv, 1.0);
    EXPECT_EQ(sc.eligible, sc.not_eligible.empty()) << sc.not_eligible;
    if (sc.eligible) {
      EXPECT_LE(sel.scores[sel.chosen].rms, sc.rms) << sc.label;
    }
  }

  auto rep = runner().run("CompareReport", R"({"title": "sel", "filename_prefix": "sel/report"})",
                          {{"diagnostics", r.outputs[1]}});
  ASSERT_TRUE(rep.ok) << rep.error;
  const std::string base = runner().output_dir() + "/sel/report";
  std::ifstream md(base + ".md");
  std::string text((std::istreambuf_iterator<char>(md)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("## Held-out selection"), std::string::npos) << text;
  EXPECT_NE(text.find("| extra_sigmas_1 |"), std::string::npos);
  EXPECT_NE(text.find("(chosen)"), std::string::npos);
  auto j = nlohmann::json::parse(std::ifstream(base + ".json"));
  ASSERT_EQ(j["diagnostics"].size(), 1u);
  EXPECT_EQ(j["diagnostics"][0]["held_out_selection"]["candidates"].size(), 4u);
  EXPECT_EQ(j["diagnostics"][0]["held_out_selection"]["held_out"], sel.held_out);
  EXPECT_NE(text.find("| mode weights vs reference |"), std::string::npos) << text;
  for (size_t c = 0; c < sel.scores.size(); ++c)
    EXPECT_EQ(j["diagnostics"][0]["held_out_selection"]["candidates"][c]["mode_tv"].get<double>(),
              sel.scores[c].mode_tv);

  auto short_extra = runner().run(
      "OptimalStepsScheduler", small(8),
      {{"model", model()}, {"sampler", sampler("euler")}, {"extra_sigmas_2", sigmas_value({80.0, 1.0, 0.0})}});
  ASSERT_FALSE(short_extra.ok);
  EXPECT_EQ(short_extra.error_input, "extra_sigmas_2");
  EXPECT_NE(short_extra.error.find("full 8-step schedule"), std::string::npos) << short_extra.error;
  auto zero = runner().run("OptimalStepsScheduler", small(8, R"(, "held_out_noises": 0)"),
                           {{"model", model()}, {"sampler", sampler("euler")}});
  ASSERT_FALSE(zero.ok);
  EXPECT_EQ(zero.error_input, "held_out_noises");
  auto unknown = runner().run("OptimalStepsScheduler", small(8, R"(, "candidates": "karras, simple")"),
                              {{"model", model()}, {"sampler", sampler("euler")}});
  ASSERT_FALSE(unknown.ok);
  EXPECT_EQ(unknown.error_input, "candidates");
}

// Plugin samplers: optimal_steps asks the sampler for its step form; one without a form, one whose
// form describes another step, and one whose form implements nothing are refused by name.
TEST(OptimalStepsNode, PluginSamplersWithoutACorrectStepFormAreRefused) {
  static testing::NodeRunner with_fixtures({SF_PLUGIN_DIR, SF_FIXTURE_DIR "/step_forms"});
  auto ring8 = with_fixtures.run("GaussianMixtureModel", R"({"preset": "ring8", "dtype": "float64"})");
  ASSERT_TRUE(ring8.ok) << ring8.error;
  auto refused = [&](const std::string& name) {
    auto s = with_fixtures.run("KSamplerSelect", R"({"sampler_name": ")" + name + R"("})");
    EXPECT_TRUE(s.ok) << s.error;
    auto r =
        with_fixtures.run("OptimalStepsScheduler", small(5), {{"model", ring8.outputs[0]}, {"sampler", s.outputs[0]}});
    EXPECT_FALSE(r.ok) << name;
    EXPECT_EQ(r.error_input, "sampler") << r.error;
    EXPECT_NE(r.error.find("'" + name + "' (plugin fixture_step_forms)"), std::string::npos) << r.error;
    return r.error;
  };
  EXPECT_NE(refused("fixture_formless").find("offers no step form"), std::string::npos);
  EXPECT_NE(refused("fixture_misdescribed").find("does not reproduce the sampler"), std::string::npos);
  EXPECT_NE(refused("fixture_empty_form").find("coefficients() returned 0 values"), std::string::npos);
}

TEST(OptimalStepsNode, BadInputsAreClearErrors) {
  auto stochastic =
      runner().run("OptimalStepsScheduler", small(5), {{"model", model()}, {"sampler", sampler("euler_ancestral")}});
  ASSERT_FALSE(stochastic.ok);
  EXPECT_EQ(stochastic.error_input, "sampler");
  EXPECT_NE(stochastic.error.find("stochastic"), std::string::npos) << stochastic.error;
  EXPECT_NE(stochastic.error.find("euler, heun, dpm_2, lms, dpmpp_2m, dpmpp_3m, ipndm, ipndm_v"), std::string::npos);
  auto lof = runner().run("SamplerMultistepOptions", R"({"sampler_name": "dpmpp_2m", "lower_order_final": "auto"})");
  ASSERT_TRUE(lof.ok) << lof.error;
  auto with_lof = runner().run("OptimalStepsScheduler", small(5), {{"model", model()}, {"sampler", lof.outputs[0]}});
  ASSERT_FALSE(with_lof.ok);
  EXPECT_EQ(with_lof.error_input, "sampler");
  EXPECT_NE(with_lof.error.find("lower_order_final"), std::string::npos) << with_lof.error;
  auto grid = runner().run("OptimalStepsScheduler", R"({"steps": 20, "grid_size": 8, "use_cache": false})",
                           {{"model", model()}, {"sampler", sampler("euler")}});
  ASSERT_FALSE(grid.ok);
  EXPECT_EQ(grid.error_input, "grid_size");
  auto nmax = runner().run("OptimalStepsScheduler", R"({"steps": 20, "max_steps": 10, "use_cache": false})",
                           {{"model", model()}, {"sampler", sampler("euler")}});
  ASSERT_FALSE(nmax.ok);
  EXPECT_EQ(nmax.error_input, "max_steps");
  auto m0 = runner().run("OptimalStepsScheduler", small(5, R"(, "training_noises": -1)"),
                         {{"model", model()}, {"sampler", sampler("euler")}});
  ASSERT_FALSE(m0.ok);
  EXPECT_EQ(m0.error_input, "training_noises");
  auto budget = runner().run("OptimalStepsScheduler", small(5, R"(, "time_budget": 0)"),
                             {{"model", model()}, {"sampler", sampler("euler")}});
  ASSERT_FALSE(budget.ok);
  EXPECT_EQ(budget.error_input, "time_budget");
  // A model whose denoiser returns NaN below sigma 0.1: the error names the sigma and the model.
  class NanModel : public Model {
   public:
    NanModel() : Model(info()) {}

   protected:
    at::Tensor denoise_batch(const at::Tensor& x, const NoiseLevels& s, const Conditioning&) const override {
      return at::where((s.to_tensor(x.size(0), x.options()) < 0.1).view({-1, 1}), at::full_like(x, NAN), x * 0.5);
    }

   private:
    static ModelInfo info() {
      ModelInfo i;
      i.sigma_min = 0.01;
      i.sigma_max = 10;
      i.sample_shape = {2};
      i.dtype = at::kDouble;
      i.fingerprint = "nan-model";
      return i;
    }
  };
  auto nan = runner().run(
      "OptimalStepsScheduler", small(5),
      {{"model", Value(std::shared_ptr<const Object>(std::make_shared<NanModel>()))}, {"sampler", sampler("euler")}});
  ASSERT_FALSE(nan.ok);
  EXPECT_EQ(nan.error_input, "model");
  EXPECT_NE(nan.error.find("NaN or Inf at sigma = 0.0"), std::string::npos) << nan.error;
}

}  // namespace
}  // namespace sf
