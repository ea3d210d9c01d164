// The optimal-steps library (scheduler/optimal_steps): each step form reproduces its table sampler;
// the DP's bookkeeping equals running the real sampler; on a small grid its choice equals
// exhaustive search; on a single Gaussian, where Euler's error has a closed form, its schedule is
// the best on the grid and no worse than karras / exponential / AYS-like; determinism; bad inputs.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "sigmaflow/diffusion/gaussian_mixture.h"
#include "sigmaflow/diffusion/noise.h"
#include "sigmaflow/diffusion/samplers.h"
#include "sigmaflow/scheduler/optimal_steps/dp.h"
#include "sigmaflow/scheduler/optimal_steps/optimal_steps.h"
#include "sigmaflow/scheduler/optimal_steps/step_forms.h"
#include "sigmaflow/scheduler/stock.h"
#include "sigmaflow/status.h"
#include "single_gaussian.h"

namespace sf::oss {
namespace {

std::shared_ptr<diffusion::GaussianMixture> ring8() {
  return std::make_shared<diffusion::GaussianMixture>(diffusion::mixture_preset("ring8"), 0.002, 80.0,
                                                      c10::Device(c10::kCPU), at::kDouble);
}

// One Gaussian N(mu, s0^2 I) in 3-D: D(x, s) = (s0^2 x + s^2 mu) / (s0^2 + s^2).
constexpr double kS0 = testing::kGaussianStd;
std::shared_ptr<diffusion::GaussianMixture> gaussian() { return testing::single_gaussian(); }

Denoiser denoiser(const Model& m) {
  return [&m](const at::Tensor& x, const NoiseLevels& s) { return m.denoise(x, s); };
}

at::Tensor training_noise(int64_t M, int64_t d, uint64_t seed = 0) {
  return diffusion::seeded_normal(seed, {M, d}, c10::Device(c10::kCPU), at::kDouble);
}

// The table sampler run over `sigmas` from grid[0] * noise.
at::Tensor run_sampler(const Model& m, const std::string& name, const at::Tensor& noise,
                       const std::vector<double>& sigmas, SamplerSettings settings = {}) {
  diffusion::TableSampler s(*diffusion::find_sampler(name), settings);
  SampleContext ctx;
  return s.sample(m, noise * sigmas[0], sigmas, ctx);
}

double rms(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).reshape({a.size(0), -1}).pow(2).sum(1).mean().sqrt().item<double>();
}

// The table samplers that have a step form, in table order.
std::vector<std::string> supported_samplers() {
  std::vector<std::string> names;
  for (const auto& e : diffusion::sampler_table())
    if (e.step_form) names.push_back(e.name);
  return names;
}

// The checked step form of a table sampler.
std::shared_ptr<const StepForm> form(const std::string& name, const SamplerSettings& settings = {}) {
  diffusion::TableSampler s(*diffusion::find_sampler(name), settings);
  return checked_step_form(s);
}

TEST(StepForms, EveryDeterministicTableSamplerHasOne) {
  // The deterministic samplers of the table, by hand: each must offer a form.
  const std::vector<std::string> want = {"euler", "heun", "dpm_2", "lms", "dpmpp_2m", "dpmpp_3m", "ipndm", "ipndm_v"};
  EXPECT_EQ(supported_samplers(), want);
  for (const auto& e : diffusion::sampler_table()) EXPECT_EQ(e.step_form != nullptr, !e.traits.stochastic) << e.name;
}

TEST(StepForms, EverySupportedSamplerMatchesItsTableSampler) {
  auto m = ring8();
  at::Tensor noise = training_noise(32, 2, 5);
  // Uneven steps, so multistep weights differ from step to step.
  std::vector<double> path = {80.0, 31.0, 9.0, 4.1, 1.3, 0.7, 0.21, 0.09, 0.03, 0.011, 0.002};
  for (const auto& name : supported_samplers()) {
    for (int max_order : {4, 2}) {
      SamplerSettings st;
      st.max_order = max_order;
      at::Tensor want = run_sampler(*m, name, noise, path, st);
      at::Tensor got = walk_step_form(denoiser(*m), *form(name, st), noise * path[0], path);
      EXPECT_LT((want - got).abs().max().item<double>(), 1e-11) << name << " max_order " << max_order;
    }
  }
}

TEST(StepForms, RefusesWhatItCannotReproduce) {
  for (const char* name : {"euler_ancestral", "dpmpp_2m_sde", "ddpm", "lcm"}) {
    try {
      form(name);
      ADD_FAILURE() << name;
    } catch (const InputError& e) {
      EXPECT_EQ(e.input(), "sampler");
      EXPECT_EQ(e.value(), name);
      EXPECT_NE(std::string(e.what()).find("offers no step form"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("stochastic"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("euler, heun, dpm_2, lms, dpmpp_2m, dpmpp_3m, ipndm, ipndm_v"),
                std::string::npos)
          << e.what();
    }
  }
  SamplerSettings lof;
  lof.lower_order_final = LowerOrderFinal::kAuto;
  try {
    form("dpmpp_2m", lof);
    ADD_FAILURE();
  } catch (const InputError& e) {
    EXPECT_EQ(e.input(), "sampler");
    EXPECT_EQ(e.value(), "dpmpp_2m (lower_order_final auto)");
  }
  SamplerSettings churn;
  churn.s_churn = 1.0;
  try {
    form("heun", churn);
    ADD_FAILURE();
  } catch (const InputError& e) {
    EXPECT_EQ(e.value(), "heun (s_churn 1)");
  }
  // Single-step samplers ignore lower_order_final, so their forms hold with it on.
  EXPECT_NO_THROW(form("heun", lof));
}

// Heun is second order: 8x more sub-steps divide the error by ~64, down to 5e-6 of the scale.
TEST(Reference, MatchesTheClosedFormOdeSolution) {
  auto m = gaussian();
  at::Tensor noise = training_noise(64, 3);
  at::Tensor mu = m->component_means()[0];
  at::Tensor x0 = noise * 80 - mu;
  auto worst_error = [&](int64_t substeps) {
    Reference ref = integrate_reference(denoiser(*m), log_uniform_grid(0.002, 80, 48), noise, substeps);
    EXPECT_EQ(ref.nfe, 64 * (48 * substeps * 2 + 1));
    double worst = 0;
    for (size_t k = 0; k < ref.grid.size(); ++k) {
      double g = std::sqrt((kS0 * kS0 + ref.grid[k] * ref.grid[k]) / (kS0 * kS0 + 80.0 * 80.0));
      worst = std::max(worst, (ref.x[static_cast<int64_t>(k)] - mu - x0 * g).abs().max().item<double>() / (g * 80));
    }
    return worst;
  };
  double coarse = worst_error(8), fine = worst_error(64);
  EXPECT_LT(fine, 1e-5);
  EXPECT_NEAR(coarse / fine, 64.0, 10.0);
}

// The DP's training error of every N equals running the table sampler with its schedule on the
// training noises, for every supported sampler.
TEST(OptimalStepsDp, TrainingErrorIsTheRealSamplersError) {
  auto m = ring8();
  at::Tensor noise = training_noise(48, 2, 3);
  Reference ref = integrate_reference(denoiser(*m), log_uniform_grid(0.002, 80, 24), noise, 4);
  for (const auto& name : supported_samplers()) {
    DpOptions o;
    o.max_steps = 8;
    o.exact_candidates = 2;
    DpResult r = optimise_steps(denoiser(*m), *form(name), ref, o);
    ASSERT_EQ(r.schedules.size(), 8u);
    for (size_t n = 0; n < r.schedules.size(); ++n) {
      const auto& s = r.schedules[n];
      ASSERT_EQ(s.size(), n + 2) << name;
      EXPECT_EQ(s.front(), 80.0);
      EXPECT_EQ(s.back(), 0.0);
      if (n > 0) {
        EXPECT_EQ(s[n], 0.002);
      }
      double actual = rms(run_sampler(*m, name, noise, s), ref.final);
      EXPECT_NEAR(r.training_error[n], actual, 1e-9 * (1 + actual)) << name << " N=" << n + 1;
    }
    EXPECT_GT(r.nfe, 0);
  }
}

// The mean-square objective is computed from matrix products; the per-particle path (used by
// the trimmed objective) forms every candidate. With nothing trimmed they must choose alike.
TEST(OptimalStepsDp, ProductPathAndCandidatePathAgree) {
  auto m = ring8();
  at::Tensor noise = training_noise(40, 2, 8);
  Reference ref = integrate_reference(denoiser(*m), log_uniform_grid(0.002, 80, 20), noise, 2);
  for (const char* name : {"euler", "dpmpp_2m", "lms"}) {
    DpOptions a, b;
    a.max_steps = b.max_steps = 10;
    b.objective = Objective::kTrimmed;
    b.trim_fraction = 0;
    DpResult ra = optimise_steps(denoiser(*m), *form(name), ref, a);
    DpResult rb = optimise_steps(denoiser(*m), *form(name), ref, b);
    EXPECT_EQ(ra.schedules, rb.schedules) << name;
    for (size_t n = 0; n < ra.training_error.size(); ++n)
      EXPECT_NEAR(ra.training_error[n], rb.training_error[n], 1e-12) << name;
  }
}

// K = 12, N = 3: the schedule is {sigma_max, grid[a], sigma_min, 0}; the DP keeps, for the state
// at sigma_min, the a with the smallest error against the reference there. Exhaustive search with
// the real sampler over every a must pick the same point and the same final error.
TEST(OptimalStepsDp, SmallGridEqualsExhaustiveSearch) {
  auto m = ring8();
  at::Tensor noise = training_noise(64, 2, 9);
  std::vector<double> grid = log_uniform_grid(0.002, 80, 12);
  Reference ref = integrate_reference(denoiser(*m), grid, noise, 8);
  for (const char* name : {"euler", "dpmpp_2m"}) {
    DpOptions o;
    o.max_steps = 3;
    o.ratio_bound = 0;  // the bound would exclude some a; exhaustive search has none
    DpResult r = optimise_steps(denoiser(*m), *form(name), ref, o);
    double best = INFINITY;
    size_t best_a = 0;
    for (size_t a = 1; a < 12; ++a) {
      double e = rms(run_sampler(*m, name, noise, {grid[0], grid[a], grid[12]}), ref.x[12]);
      if (e < best) best = e, best_a = a;
    }
    std::vector<double> want = {grid[0], grid[best_a], grid[12], 0.0};
    EXPECT_EQ(r.schedules[2], want) << name;
    EXPECT_NEAR(r.training_error[2], rms(run_sampler(*m, name, noise, want), ref.final), 1e-12) << name;
  }
}

// Single Gaussian, Euler: each step scales x - mu by f = 1 - (s - s') s / (s0^2 + s^2), the exact
// flow by sqrt((s0^2 + s'^2) / (s0^2 + s^2)), and the final step by s0^2 / (s0^2 + s^2).
double euler_closed_form_error(const std::vector<double>& s, const at::Tensor& noise, const at::Tensor& mu) {
  double p = 1;
  for (size_t k = 0; k + 2 < s.size(); ++k) p *= 1 - (s[k] - s[k + 1]) * s[k] / (kS0 * kS0 + s[k] * s[k]);
  const double last = s[s.size() - 2], smin = 0.002;
  p *= kS0 * kS0 / (kS0 * kS0 + last * last);
  double g = std::sqrt((kS0 * kS0 + smin * smin) / (kS0 * kS0 + s[0] * s[0])) * kS0 * kS0 / (kS0 * kS0 + smin * smin);
  return std::abs(p - g) * (noise * s[0] - mu).pow(2).sum(1).mean().sqrt().item<double>();
}

std::vector<double> snapped(std::vector<double> s, const std::vector<double>& grid) {
  for (size_t k = 1; k + 1 < s.size(); ++k) {
    size_t best = 0;
    for (size_t g = 0; g < grid.size(); ++g)
      if (std::abs(std::log(grid[g] / s[k])) < std::abs(std::log(grid[best] / s[k]))) best = g;
    s[k] = grid[best];
  }
  return s;
}

TEST(OptimalStepsDp, SingleGaussianEulerBeatsStockOnTheSameGrid) {
  auto m = gaussian();
  at::Tensor noise = training_noise(128, 3, 1), mu = m->component_means()[0];
  std::vector<double> grid = log_uniform_grid(0.002, 80, 64);
  Reference ref = integrate_reference(denoiser(*m), grid, noise, 64);
  DpOptions o;
  o.max_steps = 12;
  DpResult r = optimise_steps(denoiser(*m), *form("euler"), ref, o);
  for (int64_t n : {2, 3, 5, 8, 12}) {
    const auto& s = r.schedules[static_cast<size_t>(n - 1)];
    double closed = euler_closed_form_error(s, noise, mu);
    EXPECT_NEAR(r.training_error[static_cast<size_t>(n - 1)], closed, 1e-4 * closed) << "N=" << n;
    for (const auto& stock : {schedules::karras(n, 0.002, 80).values(), schedules::exponential(n, 0.002, 80).values(),
                              schedules::ays_like(n, 0.002, 80).values()}) {
      auto on_grid = snapped(stock, grid);
      bool distinct = true;
      for (size_t k = 1; k < on_grid.size(); ++k) distinct = distinct && on_grid[k] < on_grid[k - 1];
      if (!distinct) continue;
      EXPECT_LE(closed, euler_closed_form_error(on_grid, noise, mu) * (1 + 1e-9)) << "N=" << n;
    }
  }
}

TEST(OptimalStepsPlan, SameSeedSameResultOtherSeedOtherNoises) {
  auto m = ring8();
  OptimalStepsRequest rq;
  rq.sampler = "dpmpp_2m";
  rq.steps = 6;
  rq.max_steps = 6;
  rq.grid_size = 24;
  rq.training_noises = 32;
  auto a = optimal_steps_plan(*m, rq), b = optimal_steps_plan(*m, rq);
  EXPECT_EQ(a.schedules, b.schedules);
  EXPECT_EQ(a.training_error, b.training_error);
  EXPECT_EQ(a.nfe, b.nfe);
  rq.seed = 1;
  auto c = optimal_steps_plan(*m, rq);
  EXPECT_NE(a.training_error, c.training_error);
}

TEST(OptimalStepsPlan, BadInputsNameTheField) {
  auto m = ring8();
  auto expect_input = [&](OptimalStepsRequest rq, const std::string& field) {
    try {
      optimal_steps_plan(*m, rq);
      ADD_FAILURE() << field;
    } catch (const InputError& e) {
      EXPECT_EQ(e.input(), field) << e.what();
    }
  };
  OptimalStepsRequest rq;
  rq.grid_size = 16;
  rq.training_noises = 8;
  rq.max_steps = 10;
  rq.steps = 10;
  auto bad = rq;
  bad.training_noises = -1;  // M < 0 (0 is automatic)
  expect_input(bad, "training_noises");
  bad = rq;
  bad.steps = 20;  // K < N
  bad.max_steps = 20;
  expect_input(bad, "grid_size");
  bad = rq;
  bad.max_steps = 5;  // below the step count
  expect_input(bad, "max_steps");
  bad = rq;
  bad.sampler = "euler_ancestral";
  expect_input(bad, "sampler");
  bad.sampler = "no_such_sampler";
  expect_input(bad, "sampler");
  bad = rq;
  bad.objective = "median";
  expect_input(bad, "objective");
  bad = rq;
  bad.ratio_bound = 0.5;
  expect_input(bad, "ratio_bound");
  // N_max above the grid, at the DP itself.
  Reference ref = integrate_reference(denoiser(*m), log_uniform_grid(0.002, 80, 8), training_noise(4, 2), 1);
  DpOptions o;
  o.max_steps = 10;
  try {
    optimise_steps(denoiser(*m), *form("euler"), ref, o);
    ADD_FAILURE();
  } catch (const InputError& e) {
    EXPECT_EQ(e.input(), "max_steps");
  }
}

TEST(OptimalStepsDp, NanMidwayNamesTheSigma) {
  auto m = ring8();
  std::vector<double> grid = log_uniform_grid(0.002, 80, 16);
  Reference ref = integrate_reference(denoiser(*m), grid, training_noise(8, 2), 2);
  const double bad_sigma = grid[9];
  Denoiser broken = [&](const at::Tensor& x, const NoiseLevels& s) {
    at::Tensor d = m->denoise(x, s);
    for (int64_t r = 0; r < x.size(0); ++r)
      if (s[r] == bad_sigma) d[r].fill_(NAN);
    return d;
  };
  DpOptions o;
  o.max_steps = 6;
  try {
    optimise_steps(broken, *form("euler"), ref, o);
    ADD_FAILURE();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("sigma = " + std::to_string(bad_sigma)), std::string::npos) << e.what();
  }
}

TEST(OptimalStepsPlan, CacheServesTheSamePlanAndIgnoresCorruption) {
  namespace fs = std::filesystem;
  auto m = ring8();
  std::string dir = (fs::temp_directory_path() / "sigmaflow-oss-cache-test").string();
  fs::remove_all(dir);
  OptimalStepsRequest rq;
  rq.steps = 5;
  rq.max_steps = 5;
  rq.grid_size = 16;
  rq.training_noises = 16;
  rq.cache_dir = dir;
  std::vector<std::string> warnings;
  rq.warn = [&](const std::string& w) { warnings.push_back(w); };
  auto a = optimal_steps_plan(*m, rq);
  auto b = optimal_steps_plan(*m, rq);
  EXPECT_FALSE(a.from_cache);
  EXPECT_TRUE(b.from_cache);
  EXPECT_EQ(a.schedules, b.schedules);
  EXPECT_EQ(a.training_error, b.training_error);
  for (auto& f : fs::recursive_directory_iterator(dir))
    if (f.is_regular_file()) std::ofstream(f.path()) << "{\"key\": 3";
  auto c = optimal_steps_plan(*m, rq);
  EXPECT_FALSE(c.from_cache);
  EXPECT_EQ(c.schedules, a.schedules);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("corrupted"), std::string::npos);
  fs::remove_all(dir);
}

// Automatic settings: the measured defaults up to 256 dimensions; above, K and M shrink to fit the
// time budget (the floor: K = 32, M = 16), the held-out set follows M, and the choice is cached.
TEST(OptimalStepsPlan, AutomaticSettingsFollowDimensionAndBudget) {
  namespace fs = std::filesystem;
  std::string note;
  OptimalStepsRequest rq;
  rq.grid_size = 0;
  rq.training_noises = 0;
  rq.steps = 10;
  auto small = resolve_automatic_settings(*ring8(), rq, note);
  EXPECT_EQ(small.grid_size, 128);
  EXPECT_EQ(small.training_noises, 512);
  EXPECT_EQ(small.max_steps, 0);  // max(40, steps) as before
  EXPECT_TRUE(note.empty());
  rq.sampler = "heun";
  EXPECT_EQ(resolve_automatic_settings(*ring8(), rq, note).training_noises, 256);
  rq.sampler = "euler";

  diffusion::MixtureParams p;
  p.means = at::zeros({2, 784}, at::kDouble);
  p.means[1].fill_(1.0);
  p.variances = at::full({2, 784}, 0.01, at::kDouble);
  p.weights = at::full({2}, 0.5, at::kDouble);
  p.sample_shape = {784};
  p.name = "custom";
  diffusion::GaussianMixture big(p, 0.002, 80.0, c10::Device(c10::kCPU), at::kDouble);
  rq.time_budget_s = 1e-6;  // nothing fits: the floor
  auto tight = resolve_automatic_settings(big, rq, note);
  EXPECT_EQ(tight.grid_size, 32);
  EXPECT_EQ(tight.training_noises, 16);
  EXPECT_EQ(tight.max_steps, 20);
  EXPECT_EQ(tight.max_held_out, 64);
  EXPECT_NE(note.find("automatic settings for 784 dimensions"), std::string::npos) << note;
  rq.time_budget_s = 1e9;  // everything fits: the low-dimensional defaults
  auto roomy = resolve_automatic_settings(big, rq, note);
  EXPECT_EQ(roomy.grid_size, 128);
  EXPECT_EQ(roomy.training_noises, 512);
  EXPECT_EQ(roomy.max_held_out, 512);
  // Given values are kept; a cached choice is reused without measuring again.
  rq.grid_size = 40;
  EXPECT_EQ(resolve_automatic_settings(big, rq, note).grid_size, 40);
  const std::string dir = (fs::temp_directory_path() / "sigmaflow-oss-auto-test").string();
  fs::remove_all(dir);
  rq.cache_dir = dir;
  rq.time_budget_s = 5.0;
  auto first = resolve_automatic_settings(big, rq, note);
  auto second = resolve_automatic_settings(big, rq, note);
  EXPECT_EQ(first.training_noises, second.training_noises);
  EXPECT_NE(note.find("measured earlier"), std::string::npos) << note;
  fs::remove_all(dir);
  rq.time_budget_s = -1;
  rq.cache_dir.clear();
  try {
    resolve_automatic_settings(big, rq, note);
    ADD_FAILURE();
  } catch (const InputError& e) {
    EXPECT_EQ(e.input(), "time_budget");
  }
}

}  // namespace
}  // namespace sf::oss
