// ScheduleSweep's intervals (docs/ab-testing.md) measured:
//   coverage [repeats=1000] [batch=400]: Euler on one Gaussian N(mu, s0^2 I) in 3-D, where the
//     trajectory error and the mean log-density of a run have closed forms; each repeat is a whole
//     sweep with another seed, and counts whether its 95 % intervals hold the closed-form values.
//   cost [batch=20000]: a 4-schedule x 2-sampler x 3-step sweep on ring8 with resamples 0 and 200.
#include <ATen/ATen.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>

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

int cost(testing::NodeRunner& runner, int64_t batch) {
  auto m = runner.run("GaussianMixtureModel", R"({"preset": "ring8", "dtype": "float64"})");
  if (!m.ok) return std::fprintf(stderr, "%s\n", m.error.c_str()), 1;
  const std::string base = R"({"schedulers": "score_optimal, karras, exponential, align_your_steps",
      "samplers": "euler, dpmpp_2m", "steps_list": "5, 10, 20", "batch": )" +
                           std::to_string(batch) + R"(, "seed": 1, "reference_steps": 400, "resamples": )";
  sweep(runner, m.outputs[0], base + "0}");  // warm: the score-optimal schedules are cached
  for (int resamples : {0, 200}) {
    auto rep = sweep(runner, m.outputs[0], base + std::to_string(resamples) + "}");
    std::printf("resamples %3d: sweep %.2f s (intervals %.2f s, floors %.2f s, metrics %.2f s, sampling %.2f s)\n",
                resamples, rep->timings.at("sweep_seconds"), rep->timings.at("interval_seconds"),
                rep->timings.at("floor_seconds"), rep->timings.at("metric_seconds"),
                rep->timings.at("sampling_seconds"));
  }
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
  if (mode == "cost") return cost(runner, std::stoll(o.count("batch") ? o["batch"] : "20000"));
  std::fprintf(stderr, "usage: bench_intervals coverage [repeats=1000] [batch=400] | cost [batch=20000]\n");
  return 2;
}
