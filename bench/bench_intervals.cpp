// ScheduleSweep's intervals (docs/ab-testing.md) measured:
//   coverage [repeats=1000] [batch=400]: Euler on one Gaussian N(mu, s0^2 I) in 3-D, where the
//     trajectory error and the mean log-density of a run have closed forms; each repeat is a whole
//     sweep with another seed, and counts whether its 95 % intervals hold the closed-form values.
//   cost [batch=20000] [pairs=5]: a 4-schedule x 2-sampler x 3-step sweep on ring8 with resamples 0
//     and 200, alternating; the median ratio.
//   metrics [repeats=1000]: the single-metric nodes' two-sample intervals on closed forms (sliced
//     W2 of N(0, I) vs N(0, 1.5^2 I): 0.5; Frechet of N(0, I) vs N((1, 0), 1.5^2 I): 1.5; mode
//     coverage of a 70 / 30 draw of two far modes of equal weight: 0.2), 800 vs 600 samples.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "exec/threads.h"
#include "sigmaflow/report.h"
#include "sigmaflow/testing/node_runner.h"
#include "support/gaussian_reference.h"

using namespace sf;

namespace {

std::map<std::string, std::string> options(int argc, char** argv) {
  std::map<std::string, std::string> o;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto eq = a.find('=');
    if (eq != std::string::npos) o[a.substr(0, eq)] = a.substr(eq + 1);
  }
  return o;
}

double note(const ReportCell& c, const std::string& m, const char* key) {
  auto it = c.metrics.find(metric_annotation(m, key));
  return it == c.metrics.end() ? NAN : it->second;
}

std::shared_ptr<const Report> sweep(testing::NodeRunner& runner, const Value& model, const std::string& literals) {
  auto r = runner.run("ScheduleSweep", literals, {{"model", model}});
  if (!r.ok) {
    std::fprintf(stderr, "%s\n", r.error.c_str());
    std::exit(1);
  }
  return std::dynamic_pointer_cast<const Report>(r.outputs[0].object());
}

int coverage(testing::NodeRunner& runner, int64_t repeats, int64_t batch) {
  const double s0 = 0.5, mu2 = 0.09 + 0.04 + 0.01;  // mu = (0.3, -0.2, 0.1)
  auto m = runner.run("GaussianMixtureModel", R"({"preset": "custom", "means": {"__value__": [[0.3, -0.2, 0.1]]},
      "stds": {"__value__": [0.5]}, "dtype": "float64"})");
  if (!m.ok) return std::fprintf(stderr, "%s\n", m.error.c_str()), 1;
  int64_t rms_covered = 0, ld_covered = 0;
  for (int64_t r = 0; r < repeats; ++r) {
    auto rep = sweep(runner, m.outputs[0],
                     R"({"schedulers": "karras", "samplers": "euler", "steps_list": "6", "batch": )" +
                         std::to_string(batch) + R"(, "seed": )" + std::to_string(1000 + r) +
                         R"(, "reference_steps": 4000, "projections": 8, "resamples": 200})");
    const ReportCell& c = rep->cells.at(0);
    // Euler's output is mu + g (sigma0 z - mu); the converged solve's, mu + g* (sigma0 z - mu).
    const double sigma0 = c.sigmas[0];
    const double g = test::reference_multiplier("euler", s0, c.sigmas);
    const double g_exact = test::exact_multiplier(s0, sigma0, 0.0);
    const double spread = 3 * sigma0 * sigma0 + mu2;  // E ||sigma0 z - mu||^2
    const double rms = std::fabs(g - g_exact) * std::sqrt(spread);
    const double log_density = -1.5 * std::log(2 * M_PI * s0 * s0) - g * g * spread / (2 * s0 * s0);
    rms_covered += note(c, "trajectory_error", metric_keys::kIntervalLow) <= rms &&
                   rms <= note(c, "trajectory_error", metric_keys::kIntervalHigh);
    ld_covered += note(c, "mean_log_density", metric_keys::kIntervalLow) <= log_density &&
                  log_density <= note(c, "mean_log_density", metric_keys::kIntervalHigh);
  }
  std::printf(
      "coverage of the 95 %% intervals over %lld sweeps of %lld particles (Euler, 6 karras steps, one 3-D "
      "Gaussian):\n  trajectory_error  %.1f %%\n  mean_log_density  %.1f %%\n",
      static_cast<long long>(repeats), static_cast<long long>(batch), 100.0 * rms_covered / repeats,
      100.0 * ld_covered / repeats);
  return 0;
}

// Sweeps with resamples 0 and 200 in alternation, `pairs` times: the machine's drift between
// runs (here up to 15 %) cancels in each pair's ratio; the median ratio is the figure.
int cost(testing::NodeRunner& runner, int64_t batch, int pairs) {
  auto m = runner.run("GaussianMixtureModel", R"({"preset": "ring8", "dtype": "float64"})");
  if (!m.ok) return std::fprintf(stderr, "%s\n", m.error.c_str()), 1;
  const std::string base = R"({"schedulers": "score_optimal, karras, exponential, align_your_steps",
      "samplers": "euler, dpmpp_2m", "steps_list": "5, 10, 20", "batch": )" +
                           std::to_string(batch) + R"(, "seed": 1, "reference_steps": 400, "resamples": )";
  sweep(runner, m.outputs[0], base + "0}");  // warm: the score-optimal schedules are cached
  std::vector<double> ratios;
  for (int k = 0; k < pairs; ++k) {
    double seconds[2] = {0, 0};
    for (int with : {0, 1}) {
      const int resamples = with ? 200 : 0;
      auto rep = sweep(runner, m.outputs[0], base + std::to_string(resamples) + "}");
      seconds[with] = rep->timings.at("sweep_seconds");
      std::printf("resamples %3d: sweep %.2f s (intervals %.2f s, floors %.2f s, metrics %.2f s, sampling %.2f s)\n",
                  resamples, seconds[with], rep->timings.at("interval_seconds"), rep->timings.at("floor_seconds"),
                  rep->timings.at("metric_seconds"), rep->timings.at("sampling_seconds"));
    }
    ratios.push_back(seconds[1] / seconds[0]);
  }
  std::sort(ratios.begin(), ratios.end());
  std::printf("intervals and floors add %+.1f %% (median of %d pairs; range %+.1f .. %+.1f %%)\n",
              100 * (ratios[ratios.size() / 2] - 1), pairs, 100 * (ratios.front() - 1), 100 * (ratios.back() - 1));
  return 0;
}

at::Tensor gaussian(int64_t rows, uint64_t seed) {
  at::Generator g = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn({rows, 2}, g, at::TensorOptions().dtype(at::kDouble));
}

Value latent(at::Tensor t) { return Value(std::make_shared<Latent>(std::move(t))); }

int metric_coverage(testing::NodeRunner& runner, int64_t repeats) {
  auto mixture = runner.run("GaussianMixtureModel", R"({"preset": "custom", "means": {"__value__": [[-5, 0], [5, 0]]},
      "stds": {"__value__": [1, 1]}, "dtype": "float64"})");
  if (!mixture.ok) return std::fprintf(stderr, "%s\n", mixture.error.c_str()), 1;
  const at::Tensor shift = at::tensor({1.0, 0.0}, at::kDouble);
  int64_t covered[3] = {0, 0, 0};
  double width[3] = {0, 0, 0};
  for (int64_t r = 0; r < repeats; ++r) {
    const uint64_t seed = 100000 + 10 * static_cast<uint64_t>(r);
    at::Generator g = at::make_generator<at::CPUGeneratorImpl>(seed + 5);
    at::Tensor x = gaussian(800, seed + 6);
    x.select(1, 0).add_(at::where(at::rand({800}, g, at::TensorOptions().dtype(at::kDouble)) < 0.3, 5.0, -5.0));
    const testing::NodeRun runs[3] = {
        runner.run(
            "SlicedWasserstein", R"({"projections": 64, "seed": 3})",
            {{"samples", latent(gaussian(800, seed))}, {"reference_samples", latent(gaussian(600, seed + 1) * 1.5)}}),
        runner.run("FrechetDistance", R"({"features": "identity", "seed": 0})",
                   {{"samples", latent(gaussian(800, seed + 2))},
                    {"reference_samples", latent(gaussian(600, seed + 3) * 1.5 + shift)}}),
        runner.run("ModeCoverage", "{}", {{"samples", latent(x)}, {"model", mixture.outputs[0]}})};
    const double truth[3] = {0.5, 1.5, 0.2};
    for (int k = 0; k < 3; ++k) {
      if (!runs[k].ok) return std::fprintf(stderr, "%s\n", runs[k].error.c_str()), 1;
      auto m = std::dynamic_pointer_cast<const Metric>(runs[k].outputs[0].object());
      const double lo = m->annotations.at(metric_keys::kIntervalLow),
                   hi = m->annotations.at(metric_keys::kIntervalHigh);
      covered[k] += lo <= truth[k] && truth[k] <= hi;
      width[k] += (hi - lo) / static_cast<double>(repeats);
    }
  }
  const char* names[3] = {"sliced_wasserstein (0.5)", "frechet_identity (1.5)", "mode_coverage_tv (0.2)"};
  std::printf("coverage of the single-metric nodes' 95 %% intervals over %lld repeats:\n",
              static_cast<long long>(repeats));
  for (int k = 0; k < 3; ++k)
    std::printf("  %-26s %.1f %%  (mean width %.4f)\n", names[k], 100.0 * covered[k] / repeats, width[k]);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  host::configure_threads(static_cast<int>(std::thread::hardware_concurrency()));
  const std::string mode = argc > 1 ? argv[1] : "";
  auto o = options(argc, argv);
  testing::NodeRunner runner({SF_PLUGIN_DIR});
  if (mode == "coverage")
    return coverage(runner, std::stoll(o.count("repeats") ? o["repeats"] : "1000"),
                    std::stoll(o.count("batch") ? o["batch"] : "400"));
  if (mode == "cost")
    return cost(runner, std::stoll(o.count("batch") ? o["batch"] : "20000"),
                std::stoi(o.count("pairs") ? o["pairs"] : "5"));
  if (mode == "metrics") return metric_coverage(runner, std::stoll(o.count("repeats") ? o["repeats"] : "1000"));
  std::fprintf(stderr,
               "usage: bench_intervals coverage [repeats=1000] [batch=400] | cost [batch=20000] [pairs=5] | metrics "
               "[repeats=1000]\n");
  return 2;
}
