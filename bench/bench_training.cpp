// Training benchmarks (issue: train denoisers, Algorithm 2):
//   claim   the paper's claim measured: adaptive (Algorithm 2, from linear) vs fixed linear levels,
//           EDM's lognormal levels (the default everyone trains with) and the offline score-optimal
//           schedule of the exact target as fixed levels, at equal steps, on exact targets, 3 seeds:
//           score error and likelihood (mean, spread);
//           and the adaptive schedule at the end vs the offline score-optimal schedule of the same
//           trained network (max |ln sigma_adaptive - ln sigma_offline| over the knots).
//   speed   steps/s of the 2-D MLP at batch 256 (lognormal and adaptive levels, 1 and 2 threads).
// Usage: bench_training [claim|speed|all]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "sigmaflow/diffusion/gaussian_mixture.h"
#include "sigmaflow/diffusion/model_metrics.h"
#include "sigmaflow/diffusion/networks.h"
#include "sigmaflow/diffusion/training.h"
#include "sigmaflow/scheduler/score_optimal/adaptive_levels.h"
#include "sigmaflow/scheduler/score_optimal/schedule.h"
#include "trained_network.h"

using namespace sf;

namespace {

struct Target {
  std::string name;
  diffusion::MixtureParams params;
  int64_t steps;
};

diffusion::MixtureParams cantor() {
  diffusion::MixtureParams p;
  std::vector<double> means;
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b)
      for (int c = 0; c < 2; ++c) means.push_back(2 * (2.0 * a / 3 + 2.0 * b / 9 + 2.0 * c / 27 + 1.0 / 54) - 1);
  p.means = at::tensor(means, at::kDouble).view({8, 1});
  p.variances = at::full({8, 1}, 1e-4, at::kDouble);
  p.weights = at::full({8}, 1.0 / 8, at::kDouble);
  p.sample_shape = {1};
  p.name = "cantor8";
  return p;
}

// The level distributions compared at equal steps (docs/training.md, "The paper's claim").
enum class Levels { kAdaptive, kLinear, kLognormal, kScoreOptimal };
const char* levels_label(Levels l) {
  switch (l) {
    case Levels::kAdaptive:
      return "adaptive (Algorithm 2, from linear)";
    case Levels::kLinear:
      return "fixed linear (64)";
    case Levels::kLognormal:
      return "EDM lognormal (-1.2, 1.2)";
    case Levels::kScoreOptimal:
      return "fixed score-optimal of the exact target (64)";
  }
  return "";
}

bench::TrainedNetwork train(const diffusion::GaussianMixture& exact, int64_t steps, Levels kind, uint64_t seed) {
  at::Tensor data = exact.sample_data(20000, 7).to(at::kFloat);
  std::vector<double> start = diffusion::discrete_schedule("linear", 64, 0.002, 80);
  std::shared_ptr<diffusion::NoiseLevelDistribution> levels;
  if (kind == Levels::kAdaptive) {
    so::AdaptiveOptions o;
    o.burn_in = 500;
    o.dim = data.size(1);
    levels = std::make_shared<so::AdaptiveLevels>(start, o);
  } else if (kind == Levels::kLinear) {
    levels = std::make_shared<diffusion::DiscreteLevels>(start, "linear");
  } else if (kind == Levels::kLognormal) {
    levels = std::make_shared<diffusion::LogNormalLevels>(-1.2, 1.2, 0.002, 80);
  } else {
    // The best fixed levels an offline user could pick: the paper's schedule of the exact
    // target itself (64 levels, the knots the adaptive run ends with).
    so::ScoreOptimalRequest rq;
    rq.steps = 64;
    rq.measure_steps = false;
    std::vector<double> knots = so::score_optimal_schedule(exact, rq).sigmas.values();
    knots.pop_back();  // the final 0
    levels = std::make_shared<diffusion::DiscreteLevels>(knots, "score_optimal");
  }
  return bench::train_network(data, steps, levels, seed);
}

std::string fmt3(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3f", v);
  return b;
}

void stats(const std::vector<double>& v, double& mean, double& sd) {
  mean = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  sd = 0;
  for (double x : v) sd += (x - mean) * (x - mean);
  sd = std::sqrt(sd / static_cast<double>(v.size() - 1));
}

void claim() {
  std::vector<Target> targets = {{"ring8", diffusion::mixture_preset("ring8"), 3000},
                                 {"clusters2d", diffusion::mixture_preset("clusters2d"), 3000},
                                 {"cantor8", cantor(), 15000}};
  std::printf(
      "| target | steps | levels | score error (mean +- sd, 3 seeds) | log-likelihood (nats) | exact LL | "
      "adaptive vs offline: max |ln ratio| |\n|---|---|---|---|---|---|---|\n");
  for (const auto& tg : targets) {
    diffusion::GaussianMixture exact(tg.params, 0.002, 80, c10::Device(c10::kCPU), at::kFloat);
    at::Tensor x = exact.sample_data(512, 3).to(at::kDouble);
    double exact_ll = exact.log_density(x.to(at::kFloat), 0.002).to(at::kDouble).mean().item<double>();
    for (Levels kind : {Levels::kAdaptive, Levels::kLinear, Levels::kLognormal, Levels::kScoreOptimal}) {
      const bool adaptive = kind == Levels::kAdaptive;
      std::vector<double> err, ll, gap;
      for (uint64_t seed : {1, 2, 3}) {
        bench::TrainedNetwork t = train(exact, tg.steps, kind, seed);
        err.push_back(diffusion::score_error(*t.model, exact, 4096, 8, 0.002, 80, 3).weighted);
        ll.push_back(diffusion::ode_log_likelihood(*t.model, x, 64, 0.002, 80).mean().item<double>());
        if (adaptive) {
          so::ScoreOptimalRequest rq;
          rq.steps = static_cast<int64_t>(t.knots.size());  // knots.size() nonzero values, then 0
          rq.measure_steps = false;
          auto off = so::score_optimal_schedule(*t.model, rq).sigmas;
          double g = 0;
          for (size_t i = 0; i < t.knots.size(); ++i) g = std::max(g, std::abs(std::log(t.knots[i] / off[i])));
          gap.push_back(g);
        }
      }
      double em, es, lm, ls, gm = 0, gs = 0;
      stats(err, em, es);
      stats(ll, lm, ls);
      if (adaptive) stats(gap, gm, gs);
      std::printf("| %s | %lld | %s | %.5f +- %.1e | %.3f +- %.1e | %.3f | %s |\n", tg.name.c_str(),
                  static_cast<long long>(tg.steps), levels_label(kind), em, es, lm, ls, exact_ll,
                  adaptive ? (fmt3(gm) + " +- " + fmt3(gs)).c_str() : "-");
      std::fflush(stdout);
    }
  }
}

void speed() {
  diffusion::GaussianMixture exact(diffusion::mixture_preset("ring8"), 0.002, 80, c10::Device(c10::kCPU), at::kFloat);
  at::Tensor data = exact.sample_data(20000, 7).to(at::kFloat);
  std::printf("| threads | levels | width x depth | steps/s (batch 256) |\n|---|---|---|---|\n");
  for (int threads : {1, 2})
    for (bool adaptive : {false, true})
      for (auto wd : {std::pair<int64_t, int64_t>{128, 3}, {64, 2}}) {
        at::set_num_threads(threads);
        std::shared_ptr<diffusion::NoiseLevelDistribution> levels;
        if (adaptive)
          levels = std::make_shared<so::AdaptiveLevels>(diffusion::discrete_schedule("linear", 64, 0.002, 80),
                                                        so::AdaptiveOptions{});
        else
          levels = std::make_shared<diffusion::LogNormalLevels>(-1.2, 1.2, 0.002, 80);
        diffusion::TrainOptions o;
        o.steps = 3000;
        o.sigma_data = data.std().item<double>();
        diffusion::DenoiserTrainer t(diffusion::make_mlp({2, wd.first, wd.second, 32}, 1), data, levels, o);
        t.run(nullptr, {});
        std::printf("| %d | %s | %lld x %lld | %.0f |\n", threads, adaptive ? "adaptive" : "lognormal",
                    static_cast<long long>(wd.first), static_cast<long long>(wd.second),
                    static_cast<double>(o.steps) / t.log().seconds);
        std::fflush(stdout);
      }
}

}  // namespace

int main(int argc, char** argv) {
  std::string what = argc > 1 ? argv[1] : "all";
  if (what == "speed" || what == "all") speed();
  at::set_num_threads(2);
  if (what == "claim" || what == "all") claim();
  return 0;
}
