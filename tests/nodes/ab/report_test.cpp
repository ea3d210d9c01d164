// ScheduleSweep and CompareReport: a small sweep end to end, file outputs, bad inputs.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "sigmaflow/diffusion/metrics.h"
#include "sigmaflow/model.h"
#include "sigmaflow/report.h"
#include "sigmaflow/testing/node_runner.h"
#include "support/gaussian_reference.h"

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
  for (const char* ext : {".md", ".json", ".html", "_error_vs_nfe_heun.png", "_error_vs_nfe_heun.svg",
                          "_sliced_w2_vs_nfe_heun.svg", "_schedules.png", "_cost.png", "_length.svg"})
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
  // The page: every SVG written inline, one table per metric (and the wall times), no script.
  std::ifstream page(base + ".html");
  std::string html((std::istreambuf_iterator<char>(page)), std::istreambuf_iterator<char>());
  auto count = [&](const std::string& needle) {
    size_t n = 0;
    for (size_t at = html.find(needle); at != std::string::npos; at = html.find(needle, at + 1)) ++n;
    return n;
  };
  size_t svgs = 0;
  for (const auto& e : fs::directory_iterator(runner().output_dir() + "/rep")) svgs += e.path().extension() == ".svg";
  EXPECT_EQ(count("<svg"), svgs);
  EXPECT_GE(count("<table>"), 4u);  // trajectory error, sliced W2, mode coverage, mean log density (+ wall time)
  EXPECT_EQ(count("<script"), 0u);
  EXPECT_NE(html.find("default-src 'none'"), std::string::npos);
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
  // Nothing connected is refused at validation, before any node runs, naming the inputs.
  auto nothing = runner().run("CompareReport", "{}");
  ASSERT_FALSE(nothing.ok);
  EXPECT_EQ(nothing.error_kind, "validation");
  EXPECT_EQ(nothing.error_type, "required_input_missing");
  EXPECT_EQ(nothing.error_input, "report");
  EXPECT_NE(nothing.error.find("connect at least one of: report, metric_1"), std::string::npos) << nothing.error;
  testing::NodeRunner locked({SF_PLUGIN_DIR}, "/proc/sigmaflow-no-such-place");
  auto unwritable = locked.run("CompareReport", R"({"filename_prefix": "x"})", {{"metric_1", te.outputs[0]}});
  ASSERT_FALSE(unwritable.ok);
  EXPECT_EQ(unwritable.error_input, "filename_prefix");
  EXPECT_NE(unwritable.error.find("/proc/sigmaflow-no-such-place"), std::string::npos) << unwritable.error;
}

// ---- intervals, paired comparisons and noise floors (issue 25) ----

double note(const ReportCell& c, const std::string& m, const char* key) {
  auto it = c.metrics.find(metric_annotation(m, key));
  return it == c.metrics.end() ? NAN : it->second;
}

// One Gaussian N(mu, s0^2 I) in 3-D: Euler maps x(sigma_0) - mu linearly, and so does the exact
// ODE (the multipliers of tests/support/gaussian_reference.h). Every particle's error is |gain - exact| times the same
// per-particle vector for every schedule, so a ratio between two schedules is the same for every particle: its paired
// interval collapses onto the closed-form ratio.
constexpr double kS0 = 0.5;
double euler_gain_error(const std::vector<double>& sigmas) {
  return std::fabs(test::reference_multiplier("euler", kS0, sigmas) - test::exact_multiplier(kS0, sigmas.front(), 0.0));
}

TEST(ScheduleSweep, PairedIntervalsMatchTheClosedFormOnAGaussian) {
  auto model = runner().run("GaussianMixtureModel", R"({"preset": "custom", "means": {"__value__": [[0.3, -0.2, 0.1]]},
      "stds": {"__value__": [0.5]}, "dtype": "float64"})");
  ASSERT_TRUE(model.ok) << model.error;
  auto r = runner().run("ScheduleSweep", R"({"schedulers": "score_optimal, karras, exponential", "samplers": "euler",
      "steps_list": "4, 8", "batch": 500, "seed": 3, "reference_steps": 4000, "projections": 32, "resamples": 200})",
                        {{"model", model.outputs[0]}});
  ASSERT_TRUE(r.ok) << r.error;
  auto rep = std::dynamic_pointer_cast<const Report>(r.outputs[0].object());
  ASSERT_EQ(rep->cells.size(), 6u);
  int compared = 0;
  for (const auto& c : rep->cells) {
    for (const std::string m : {"trajectory_error", "sliced_wasserstein", "mean_log_density"}) {
      const double v = c.metrics.at(m), lo = note(c, m, metric_keys::kIntervalLow),
                   hi = note(c, m, metric_keys::kIntervalHigh);
      EXPECT_LT(lo, v) << m << " " << c.schedule;
      EXPECT_GT(hi, v) << m << " " << c.schedule;
    }
    EXPECT_EQ(note(c, "mode_coverage_tv", metric_keys::kFlips), 0.0);  // one mode: nowhere to flip to
    EXPECT_EQ(note(c, "trajectory_error", metric_keys::kParticles), 500.0);
    if (c.schedule != "score_optimal") continue;
    // The best stock schedule of the column, by the closed form.
    double best = INFINITY;
    for (const auto& o : rep->cells)
      if (o.schedule != "score_optimal" && o.steps == c.steps) best = std::min(best, euler_gain_error(o.sigmas));
    const double expected = best / euler_gain_error(c.sigmas);
    const double ratio = note(c, "trajectory_error", metric_keys::kVsStock);
    EXPECT_NEAR(ratio, expected, 1e-3 * expected) << c.steps;
    EXPECT_NEAR(note(c, "trajectory_error", metric_keys::kVsStockLow), ratio, 1e-9 * ratio);
    EXPECT_NEAR(note(c, "trajectory_error", metric_keys::kVsStockHigh), ratio, 1e-9 * ratio);
    ++compared;
  }
  EXPECT_EQ(compared, 2);
}

// The floor is the metric between two independent sets of the target: its mean over many such
// pairs, measured here directly, lies within the floor's interval.
TEST(ScheduleSweep, NoiseFloorMatchesIndependentExactSets) {
  Value ring = ring_model();
  auto r = runner().run("ScheduleSweep", R"({"schedulers": "karras", "samplers": "heun", "steps_list": "30",
      "batch": 1000, "seed": 5, "reference_steps": 200, "projections": 64, "resamples": 300})",
                        {{"model", ring}});
  ASSERT_TRUE(r.ok) << r.error;
  auto rep = std::dynamic_pointer_cast<const Report>(r.outputs[0].object());
  const ReportCell& c = rep->cells.at(0);
  const double floor = note(c, "sliced_wasserstein", metric_keys::kFloor),
               lo = note(c, "sliced_wasserstein", metric_keys::kFloorLow),
               hi = note(c, "sliced_wasserstein", metric_keys::kFloorHigh);
  ASSERT_TRUE(std::isfinite(floor) && std::isfinite(lo) && std::isfinite(hi));
  EXPECT_LT(lo, floor);
  EXPECT_GT(hi, floor);
  EXPECT_GT(note(c, "sliced_wasserstein", metric_keys::kFloorExponent), 0.0);
  const ExactDensity* exact = std::dynamic_pointer_cast<const Model>(ring.object())->exact();
  ASSERT_NE(exact, nullptr);
  double sum = 0;
  const int pairs = 20;
  for (int k = 0; k < pairs; ++k)
    sum += diffusion::sliced_wasserstein(exact->sample_data(1000, 1000 + 2 * k), exact->sample_data(1000, 1001 + 2 * k),
                                         64, 77 + k);
  const double mean = sum / pairs;
  EXPECT_GE(mean, lo);
  EXPECT_LE(mean, hi);
  // A converged sampler is within the floor, and the report says so.
  EXPECT_LE(c.metrics.at("sliced_wasserstein"), hi);
  auto page = runner().run("CompareReport", R"({"filename_prefix": "floor/r"})", {{"report", r.outputs[0]}});
  ASSERT_TRUE(page.ok) << page.error;
  std::ifstream md(runner().output_dir() + "/floor/r.md");
  std::string text((std::istreambuf_iterator<char>(md)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("Noise floor: "), std::string::npos);
  EXPECT_NE(text.find("within the noise floor"), std::string::npos);
}

TEST(ScheduleSweep, WithoutResamplesThereAreNoIntervalsAndBadCountsAreRefused) {
  auto r = runner().run("ScheduleSweep", R"({"schedulers": "karras", "samplers": "euler", "steps_list": "4",
      "batch": 100, "reference_steps": 50, "resamples": 0})",
                        {{"model", ring_model()}});
  ASSERT_TRUE(r.ok) << r.error;
  auto rep = std::dynamic_pointer_cast<const Report>(r.outputs[0].object());
  EXPECT_EQ(rep->cells.at(0).metrics.count(metric_annotation("trajectory_error", metric_keys::kIntervalLow)), 0u);
  auto bad = runner().run("ScheduleSweep", R"({"resamples": -1})", {{"model", ring_model()}});
  ASSERT_FALSE(bad.ok);
  EXPECT_EQ(bad.error_kind, "validation");
  EXPECT_EQ(bad.error_input, "resamples");
}

// Steps saved against a hand-made curve: the stock schedule's error is 1 / NFE^2 at 5, 10 and 20
// NFE; an optimised cell reaching 1/64 at 5 NFE matches the stock schedule at 8 NFE (log-log
// interpolation is exact on a power law): it saves 1 - 5/8 = 37.5 %, and its interval
// [1/81, 1/49] maps to 9 and 7 NFE: [29, 44] %.
TEST(CompareReport, StepsSavedInterpolatesTheStockCurve) {
  auto r = std::make_shared<Report>();
  r->model = "hand-made";
  r->metric_names = {"trajectory_error"};
  r->lower_is_better["trajectory_error"] = true;
  for (int64_t n : {5, 10, 20})
    r->cells.push_back({"karras", "euler", n, n, 0.0, {{"trajectory_error", 1.0 / (n * n)}}, {}});
  ReportCell opt{"optimal_steps", "euler", 5, 5, 0.0, {{"trajectory_error", 1.0 / 64}}, {}};
  opt.metrics[metric_annotation("trajectory_error", metric_keys::kIntervalLow)] = 1.0 / 81;
  opt.metrics[metric_annotation("trajectory_error", metric_keys::kIntervalHigh)] = 1.0 / 49;
  r->cells.push_back(opt);
  auto page = runner().run("CompareReport", R"({"filename_prefix": "saved/r"})",
                           {{"report", Value(std::shared_ptr<const Report>(r))}});
  ASSERT_TRUE(page.ok) << page.error;
  std::ifstream md(runner().output_dir() + "/saved/r.md");
  std::string text((std::istreambuf_iterator<char>(md)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("| optimal_steps | euler | saves 38 % [29, 44] (stock: 8 NFE) |"), std::string::npos) << text;
}

// Extra SIGMAS candidates run at their own step count, labelled by input name, and count as
// optimised (compared with the best stock schedule); a length not in steps_list is refused, naming
// the input. A reference model supplies mode coverage; one of another sample shape is refused.
TEST(ScheduleSweep, ExtraCandidatesAndAReferenceModel) {
  auto karras4 = runner().run("KarrasScheduler", R"({"steps": 4, "sigma_min": 0.002, "sigma_max": 80, "rho": 3})");
  ASSERT_TRUE(karras4.ok) << karras4.error;
  const char* sweep = R"({"schedulers": "karras, exponential", "samplers": "euler, heun", "steps_list": "4, 8",
      "batch": 200, "seed": 1, "reference_steps": 100, "projections": 16})";
  auto r = runner().run("ScheduleSweep", sweep, {{"model", ring_model()}, {"extra_sigmas_1", karras4.outputs[0]}});
  ASSERT_TRUE(r.ok) << r.error;
  auto rep = std::dynamic_pointer_cast<const Report>(r.outputs[0].object());
  ASSERT_EQ(rep->cells.size(), 2u * 2u * 2u + 2u);
  int extra = 0;
  for (const auto& c : rep->cells)
    if (c.schedule == "extra_sigmas_1") {
      ++extra;
      EXPECT_EQ(c.steps, 4);
      EXPECT_TRUE(std::isfinite(note(c, "trajectory_error", metric_keys::kVsStock))) << "compared with stock";
    }
  EXPECT_EQ(extra, 2);
  auto karras6 = runner().run("KarrasScheduler", R"({"steps": 6, "sigma_min": 0.002, "sigma_max": 80})");
  auto wrong = runner().run("ScheduleSweep", sweep, {{"model", ring_model()}, {"extra_sigmas_2", karras6.outputs[0]}});
  ASSERT_FALSE(wrong.ok);
  EXPECT_EQ(wrong.error_input, "extra_sigmas_2");
  EXPECT_NE(wrong.error.find("add 6 there"), std::string::npos) << wrong.error;

  // Mode coverage against another mixture's modes: 2 clusters instead of the ring's 8.
  auto clusters = runner().run("GaussianMixtureModel", R"({"preset": "clusters2d", "dtype": "float64"})");
  ASSERT_TRUE(clusters.ok) << clusters.error;
  auto own = runner().run("ScheduleSweep", sweep, {{"model", ring_model()}});
  auto other =
      runner().run("ScheduleSweep", sweep, {{"model", ring_model()}, {"reference_model", clusters.outputs[0]}});
  ASSERT_TRUE(own.ok && other.ok) << own.error << other.error;
  auto a = std::dynamic_pointer_cast<const Report>(own.outputs[0].object());
  auto b = std::dynamic_pointer_cast<const Report>(other.outputs[0].object());
  EXPECT_NE(a->cells[0].metrics.at("mode_coverage_tv"), b->cells[0].metrics.at("mode_coverage_tv"));
  EXPECT_EQ(a->cells[0].metrics.at("trajectory_error"), b->cells[0].metrics.at("trajectory_error"));
  auto three_d = runner().run("GaussianMixtureModel", R"({"preset": "custom", "means": {"__value__": [[0, 0, 0]]},
      "stds": {"__value__": [1.0]}})");
  ASSERT_TRUE(three_d.ok) << three_d.error;
  auto shape = runner().run("ScheduleSweep", sweep, {{"model", ring_model()}, {"reference_model", three_d.outputs[0]}});
  ASSERT_FALSE(shape.ok);
  EXPECT_EQ(shape.error_input, "reference_model");
  EXPECT_NE(shape.error.find("sample shape [3] differs from the model's [2]"), std::string::npos) << shape.error;
}

// With several seeds every value is the mean of the single-seed sweeps, and the interval, which
// resamples each seed's particles, is narrower than one seed's (about 1/sqrt 2 for two).
TEST(ScheduleSweep, SeedsAverageRunsAndNarrowIntervals) {
  const std::string base = R"("schedulers": "karras, exponential", "samplers": "euler", "steps_list": "6",
      "batch": 400, "reference_steps": 100, "projections": 16)";
  auto one = runner().run("ScheduleSweep", "{" + base + R"(, "seed": 11})", {{"model", ring_model()}});
  auto two = runner().run("ScheduleSweep", "{" + base + R"(, "seed": 12})", {{"model", ring_model()}});
  auto both = runner().run("ScheduleSweep", "{" + base + R"(, "seeds": "11, 12"})", {{"model", ring_model()}});
  ASSERT_TRUE(one.ok && two.ok && both.ok) << one.error << two.error << both.error;
  auto a = std::dynamic_pointer_cast<const Report>(one.outputs[0].object());
  auto b = std::dynamic_pointer_cast<const Report>(two.outputs[0].object());
  auto ab = std::dynamic_pointer_cast<const Report>(both.outputs[0].object());
  ASSERT_EQ(ab->cells.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    for (const std::string m : {"trajectory_error", "sliced_wasserstein", "mean_log_density"})
      EXPECT_NEAR(ab->cells[i].metrics.at(m), 0.5 * (a->cells[i].metrics.at(m) + b->cells[i].metrics.at(m)), 1e-12)
          << m;
    EXPECT_EQ(note(ab->cells[i], "mode_coverage_tv", metric_keys::kFlips),
              note(a->cells[i], "mode_coverage_tv", metric_keys::kFlips) +
                  note(b->cells[i], "mode_coverage_tv", metric_keys::kFlips));
    auto width = [](const ReportCell& c) {
      return note(c, "trajectory_error", metric_keys::kIntervalHigh) -
             note(c, "trajectory_error", metric_keys::kIntervalLow);
    };
    EXPECT_LT(width(ab->cells[i]), 0.85 * 0.5 * (width(a->cells[i]) + width(b->cells[i])));
  }
  EXPECT_NE(ab->reference.find("2 seeds (11, 12)"), std::string::npos) << ab->reference;
  for (const char* bad : {"1, 1", "-3", "1,,2", "x", "1, 99999999999999999999999"}) {
    auto r = runner().run("ScheduleSweep", std::string(R"({"seeds": ")") + bad + R"("})", {{"model", ring_model()}});
    ASSERT_FALSE(r.ok) << bad;
    EXPECT_EQ(r.error_kind, "validation") << bad;
    EXPECT_EQ(r.error_input, "seeds") << bad;
  }
}

}  // namespace
}  // namespace sf
