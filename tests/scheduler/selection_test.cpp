// Held-out selection (scheduler/optimal_steps/selection): on a single Gaussian, where Euler's error has a closed form,
// the selection picks the candidate the closed form says is best, with the closed-form ratios, and returns a stock
// schedule (saying so) when the DP is forced onto a poor grid; bad inputs name the field before any model evaluation.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "sigmaflow/diffusion/gaussian_mixture.h"
#include "sigmaflow/diffusion/noise.h"
#include "sigmaflow/diffusion/samplers.h"
#include "sigmaflow/scheduler/optimal_steps/optimal_steps.h"
#include "sigmaflow/scheduler/optimal_steps/selection.h"
#include "sigmaflow/scheduler/stock.h"
#include "sigmaflow/status.h"
#include "single_gaussian.h"

namespace sf::oss {
namespace {

// One Gaussian N(mu, s0^2 I) in 3-D (single_gaussian.h).
constexpr double kS0 = testing::kGaussianStd, kSigmaMin = testing::kGaussianSigmaMin,
                 kSigmaMax = testing::kGaussianSigmaMax;
std::shared_ptr<diffusion::GaussianMixture> gaussian() { return testing::single_gaussian(); }

// Euler on this Gaussian maps x(sigma_max) - mu linearly: the output's deviation from the
// converged ODE solution is |gain(s) - exact| times x(sigma_max) - mu, for every noise. So every
// candidate's error is proportional to the same per-noise factor, and ratios are exact.
double euler_gain_error(const std::vector<double>& s) {
  const double v = kS0 * kS0;
  double p = 1;
  for (size_t k = 0; k + 2 < s.size(); ++k) p *= 1 - (s[k] - s[k + 1]) * s[k] / (v + s[k] * s[k]);
  const double last = s[s.size() - 2];
  p *= v / (v + last * last);
  const double exact = std::sqrt((v + kSigmaMin * kSigmaMin) / (v + s[0] * s[0])) * v / (v + kSigmaMin * kSigmaMin);
  return std::abs(p - exact);
}

OptimalStepsRequest forced_request() {
  OptimalStepsRequest rq;
  rq.sampler = "euler";
  rq.steps = 5;
  rq.max_steps = 5;
  rq.grid_size = 4;  // N - 1 grid points after sigma_max: the DP's only path is the log-uniform grid
  rq.training_noises = 64;
  rq.stock_candidates = {"karras", "exponential", "align_your_steps", "kl_optimal", "score_optimal"};
  return rq;
}

TEST(HeldOutSelection, PicksTheClosedFormBestWithClosedFormRatios) {
  auto m = gaussian();
  std::vector<std::string> said;
  OptimalStepsRequest rq = forced_request();
  rq.info = [&](const std::string& s) { said.push_back(s); };
  OptimalStepsResult r = optimal_steps_schedule(*m, rq);
  ASSERT_TRUE(r.diagnostics && r.diagnostics->selected);
  const Selection& s = r.diagnostics->selection;
  ASSERT_EQ(s.scores.size(), 6u);
  EXPECT_EQ(s.scores[0].label, "optimal_steps");
  // The forced DP schedule is the exponential one (both log-uniform from sigma_max to sigma_min).
  const auto expo = schedules::exponential(5, kSigmaMin, kSigmaMax).values();
  for (size_t i = 0; i < expo.size(); ++i) EXPECT_NEAR(s.scores[0].sigmas[i], expo[i], 1e-9 * expo[i]);
  size_t best = 0;
  for (size_t c = 0; c < s.scores.size(); ++c)
    if (euler_gain_error(s.scores[c].sigmas) < euler_gain_error(s.scores[best].sigmas)) best = c;
  ASSERT_NE(best, 0u) << "the construction needs a stock schedule better than the forced DP";
  EXPECT_TRUE(s.scores[best].eligible);
  EXPECT_EQ(s.chosen, best) << s.summary;
  EXPECT_EQ(r.sigmas.values(), s.scores[best].sigmas);
  const double chosen_gain = euler_gain_error(s.scores[best].sigmas);
  for (const auto& sc : s.scores) {
    const double ratio = euler_gain_error(sc.sigmas) / chosen_gain;
    EXPECT_NEAR(sc.ratio, ratio, 1e-3 * ratio) << sc.label;
    // Paired: the same per-noise factor cancels, so the interval is the point itself.
    EXPECT_NEAR(sc.ratio_interval.lo, ratio, 1e-3 * ratio) << sc.label;
    EXPECT_NEAR(sc.ratio_interval.hi, ratio, 1e-3 * ratio) << sc.label;
    EXPECT_LE(sc.rms_interval.lo, sc.rms);
    EXPECT_GE(sc.rms_interval.hi, sc.rms);
    // Sliced W2 orders them as the RMS does here (every output is the same multiple of its noise).
    if (sc.sliced_w2 <= 1.2 * s.scores[best].sliced_w2) {
      EXPECT_TRUE(sc.eligible) << sc.label;
    }
    EXPECT_GE(sc.sliced_w2, s.scores[best].sliced_w2 * (1 - 1e-9)) << sc.label;
  }
  // Says so: the summary, the info line and the method name the stock schedule.
  EXPECT_EQ(s.summary.rfind("returned " + s.scores[best].label + " instead of optimal_steps", 0), 0u) << s.summary;
  bool told = false;
  for (const auto& line : said) told = told || line.find(s.summary) != std::string::npos;
  EXPECT_TRUE(told);
  EXPECT_NE(r.diagnostics->method.find("chosen=" + s.scores[best].label), std::string::npos);
  // Held-out size: the winner's lead is exact here (every ratio interval is a point), so the
  // automatic size stays at its first 256 (past the 64 training noises), and the reference was
  // integrated for those only (64 intervals x 4 Heun sub-steps x 2 evaluations each; the
  // score_optimal candidate's estimate and the sampler runs come on top).
  EXPECT_EQ(s.held_out, 256);
  EXPECT_GT(s.nfe, 256 * 64 * 4 * 2);
  EXPECT_LT(s.nfe, 512 * 64 * 4 * 2 + 393728 + 6 * 5 * 256);
}

TEST(HeldOutSelection, ABetterExtraCandidateWinsAndOffKeepsTheDp) {
  auto m = gaussian();
  // The DP on a fine grid: the best on its grid for Euler here (optimal_steps_test), so better
  // than every stock candidate; connected as an extra SIGMAS.
  OptimalStepsRequest fine = forced_request();
  fine.grid_size = 64;
  fine.select = false;
  const std::vector<double> tuned = optimal_steps_schedule(*m, fine).sigmas.values();
  OptimalStepsRequest rq = forced_request();
  rq.extra_candidates = {{"extra_sigmas_1", tuned}};
  OptimalStepsResult r = optimal_steps_schedule(*m, rq);
  const Selection& s = r.diagnostics->selection;
  ASSERT_EQ(s.scores.back().label, "extra_sigmas_1");
  for (const auto& sc : s.scores) ASSERT_LE(euler_gain_error(tuned), euler_gain_error(sc.sigmas) * (1 + 1e-12));
  EXPECT_EQ(s.scores[s.chosen].label, "extra_sigmas_1") << s.summary;
  EXPECT_EQ(r.sigmas.values(), tuned);
  // Selection off: the DP's schedule as it is, and no selection in the diagnostics.
  rq.select = false;
  OptimalStepsResult off = optimal_steps_schedule(*m, rq);
  EXPECT_FALSE(off.diagnostics->selected);
  EXPECT_EQ(off.sigmas.values(), s.scores[0].sigmas);
  // Determinism: the same request gives the same selection.
  rq.select = true;
  OptimalStepsResult again = optimal_steps_schedule(*m, rq);
  EXPECT_EQ(again.diagnostics->selection.summary, s.summary);
}

// The held-out reference depends on the model, grid and seed only: cached beside the plan, it
// serves every step count, so a second N costs only the candidates' sampler runs.
TEST(HeldOutSelection, TheHeldOutReferenceIsComputedOncePerPlan) {
  namespace fs = std::filesystem;
  const std::string dir = (fs::temp_directory_path() / "sigmaflow-selection-cache-test").string();
  fs::remove_all(dir);
  auto m = gaussian();
  OptimalStepsRequest rq = forced_request();
  rq.grid_size = 8;
  rq.max_steps = 6;
  rq.held_out_noises = 64;
  rq.cache_dir = dir;
  OptimalStepsResult five = optimal_steps_schedule(*m, rq);
  EXPECT_GT(five.diagnostics->selection.nfe, 64 * 128 * 4 * 2);  // the reference was integrated
  rq.steps = 4;
  OptimalStepsResult four = optimal_steps_schedule(*m, rq);
  const Selection& s = four.diagnostics->selection;
  EXPECT_EQ(s.held_out, 64);
  // Euler: 4 evaluations per noise per candidate (6 candidates), nothing else.
  EXPECT_EQ(s.nfe, 64 * 4 * 6);
  // And a repeated request is served whole from the cache.
  OptimalStepsResult again = optimal_steps_schedule(*m, rq);
  EXPECT_TRUE(again.diagnostics->from_cache);
  EXPECT_EQ(again.diagnostics->nfe, 0);
  EXPECT_EQ(again.sigmas.values(), four.sigmas.values());
  fs::remove_all(dir);
}

// Two candidates that are the same schedule are tied whatever the noises: the automatic size
// doubles up to its bound, integrating the reference only for the noises added, and says so.
TEST(HeldOutSelection, ATieGrowsTheHeldOutSet) {
  auto m = gaussian();
  OptimalStepsRequest rq = forced_request();
  rq.select = false;
  const std::vector<double> dp = optimal_steps_schedule(*m, rq).sigmas.values();
  rq.select = true;
  rq.stock_candidates = {"karras"};
  rq.extra_candidates = {{"extra_sigmas_1", dp}};
  rq.max_held_out = 1024;
  std::vector<std::string> said;
  rq.info = [&](const std::string& line) { said.push_back(line); };
  const Selection s = optimal_steps_schedule(*m, rq).diagnostics->selection;
  EXPECT_EQ(s.held_out, 1024);
  EXPECT_EQ(s.scores[s.chosen].label, "optimal_steps") << s.summary;  // the first of the two equal ones
  EXPECT_NE(s.summary.find("grown from 256"), std::string::npos) << s.summary;
  std::string told;
  for (const auto& line : said) told += line + "\n";
  EXPECT_NE(told.find("within noise on 256 noises; measuring 512"), std::string::npos) << told;
  EXPECT_NE(told.find("within noise on 512 noises; measuring 1024"), std::string::npos) << told;
  EXPECT_NE(told.find("integrating the reference for held-out noises 1 to 256"), std::string::npos) << told;
  EXPECT_NE(told.find("integrating the reference for held-out noises 513 to 1024"), std::string::npos) << told;
}

// A denoiser that counts its calls: bad inputs must be refused before any.
class CountingGaussian : public diffusion::GaussianMixture {
 public:
  explicit CountingGaussian(const diffusion::GaussianMixture& g) : GaussianMixture(g) {}
  mutable int64_t calls = 0;

 protected:
  at::Tensor denoise_batch(const at::Tensor& x, const NoiseLevels& s, const Conditioning& c) const override {
    ++calls;
    return GaussianMixture::denoise_batch(x, s, c);
  }
};

TEST(HeldOutSelection, BadInputsNameTheFieldBeforeAnyWork) {
  CountingGaussian m(*gaussian());
  auto expect_input = [&](const OptimalStepsRequest& rq, const std::string& field, const std::string& words) {
    try {
      optimal_steps_schedule(m, rq);
      ADD_FAILURE() << field;
    } catch (const InputError& e) {
      EXPECT_EQ(e.input(), field) << e.what();
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
    EXPECT_EQ(m.calls, 0) << field;
  };
  OptimalStepsRequest rq = forced_request();
  auto bad = rq;
  bad.held_out_noises = 0;
  expect_input(bad, "held_out_noises", "-1 (automatic) or between 16 and training_noises (64)");
  bad.held_out_noises = 65;  // more than the training noises
  expect_input(bad, "held_out_noises", "between 16 and training_noises");
  bad = rq;
  bad.stock_candidates = {"karras", "linear"};
  expect_input(bad, "candidates", "unknown stock candidate 'linear'");
  bad = rq;
  bad.extra_candidates = {{"extra_sigmas_1", schedules::karras(4, kSigmaMin, kSigmaMax).values()}};  // 4 steps, not 5
  expect_input(bad, "extra_sigmas_1", "full 5-step schedule");
  bad = rq;
  auto rising = schedules::karras(5, kSigmaMin, kSigmaMax).values();
  std::swap(rising[1], rising[2]);
  bad.extra_candidates = {{"extra_sigmas_2", rising}};
  expect_input(bad, "extra_sigmas_2", "descending");
  // Below the size that gives an interval, at the selection itself.
  diffusion::TableSampler euler(*diffusion::find_sampler("euler"), {});
  SelectionRequest srq;
  srq.held_out = 8;
  srq.grid = {kSigmaMax, kSigmaMin};
  try {
    select_on_held_out(m, euler, {{"karras", schedules::karras(5, kSigmaMin, kSigmaMax).values()}}, srq);
    ADD_FAILURE();
  } catch (const InputError& e) {
    EXPECT_EQ(e.input(), "held_out_noises");
  }
  EXPECT_EQ(m.calls, 0);
}

// Mode weights by construction: the reference outputs sit on two points, 300 at (0, 0) and 100 at
// (5, 0). "moved" is the reference with 40 of the light mode's outputs moved onto the heavy one:
// RMS sqrt(40 * 25 / 400) = 1.581, mode-weight TV 40 / 400 = 0.1, sliced W2 below "blurred"'s.
// "blurred" is the reference with N(0, 3^2) added across the modes' axis only: RMS about 3, every
// output still nearest its own mode (TV 0). So "moved" has the lower trajectory error and the
// mode-weight loss.
struct TwoModes {
  at::Tensor reference, moved, blurred;
  TwoModes() {
    reference = at::zeros({400, 2}, at::kDouble);
    reference.narrow(0, 300, 100).select(1, 0).fill_(5.0);
    moved = reference.clone();
    moved.narrow(0, 300, 40).select(1, 0).fill_(0.0);
    blurred = reference.clone();
    blurred.select(1, 1).copy_(3.0 * at::randn({400}, diffusion::cpu_generator(5), at::kDouble));
  }
};

TEST(HeldOutSelection, AModeWeightLossIsNotEligibleAgainstABaseline) {
  TwoModes t;
  SelectionRequest rq;
  const std::vector<CandidateSchedule> candidates{{"optimal_steps", {2, 1, 0}, false}, {"karras", {2, 0.5, 0}, true}};
  Selection s = select_from_outputs(candidates, {t.moved, t.blurred}, t.reference, rq);
  ASSERT_EQ(s.scores.size(), 2u);
  EXPECT_NEAR(s.scores[0].rms, std::sqrt(40.0 * 25 / 400), 1e-12);
  EXPECT_NEAR(s.scores[0].mode_tv, 0.1, 1e-12);
  EXPECT_EQ(s.scores[1].mode_tv, 0.0);
  EXPECT_GT(s.scores[1].rms, 2.5);
  EXPECT_LT(s.scores[0].sliced_w2, s.scores[1].sliced_w2);  // the sliced W2 alone would not refuse it
  EXPECT_LE(s.scores[0].mode_tv_interval.lo, 0.1);
  EXPECT_GE(s.scores[0].mode_tv_interval.hi, 0.1);
  EXPECT_FALSE(s.scores[0].eligible);
  EXPECT_NE(s.scores[0].not_eligible.find("mode weights 0.1"), std::string::npos) << s.scores[0].not_eligible;
  EXPECT_EQ(s.chosen, 1u) << s.summary;
  EXPECT_NE(s.summary.find("returned karras instead of optimal_steps"), std::string::npos) << s.summary;
  EXPECT_NE(s.summary.find("not eligible"), std::string::npos) << s.summary;

  // The same outputs as two baselines: both eligible, and the lower RMS wins.
  const std::vector<CandidateSchedule> baselines{{"exponential", {2, 1, 0}, true}, {"karras", {2, 0.5, 0}, true}};
  Selection b = select_from_outputs(baselines, {t.moved, t.blurred}, t.reference, rq);
  EXPECT_TRUE(b.scores[0].eligible && b.scores[1].eligible);
  EXPECT_EQ(b.chosen, 0u) << b.summary;

  // Without the move, the DP's outputs are the reference's: eligible and chosen.
  Selection kept = select_from_outputs(candidates, {t.reference, t.blurred}, t.reference, rq);
  EXPECT_EQ(kept.scores[0].mode_tv, 0.0);
  EXPECT_TRUE(kept.scores[0].eligible);
  EXPECT_EQ(kept.chosen, 0u) << kept.summary;
}

// Below the margin (1 % of the mass), a mode-weight difference is no reason to refuse.
TEST(HeldOutSelection, ASmallModeWeightDifferenceIsNoLoss) {
  TwoModes t;
  at::Tensor few = t.reference.clone();
  few.narrow(0, 300, 2).select(1, 0).fill_(0.0);  // TV 2 / 400 = 0.005
  SelectionRequest rq;
  const std::vector<CandidateSchedule> candidates{{"optimal_steps", {2, 1, 0}, false}, {"karras", {2, 0.5, 0}, true}};
  Selection s = select_from_outputs(candidates, {few, t.blurred}, t.reference, rq);
  EXPECT_NEAR(s.scores[0].mode_tv, 0.005, 1e-12);
  EXPECT_TRUE(s.scores[0].eligible) << s.scores[0].not_eligible;
  EXPECT_EQ(s.chosen, 0u);
}

}  // namespace
}  // namespace sf::oss
