// Score-optimal scheduler: estimation cost, and quality against stock schedules.
//   bench_score_optimal cost      NFE and wall time of the default estimate per preset, vs 1000
//                                 samples with 20-step heun
//   bench_score_optimal quality   trajectory error and sliced Wasserstein, every cell, for the
//                                 stock schedules (karras, exponential, AYS-like, uniform) and
//                                 floor 0 / 0.01 / 0.1 / 1 and the predictor cost
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <thread>

#include "exec/threads.h"
#include "sigmaflow/diffusion/metrics.h"
#include "sigmaflow/diffusion/samplers.h"
#include "sigmaflow/diffusion/sigmas.h"
#include "sigmaflow/scheduler/score_optimal/corrector_cost.h"
#include "sigmaflow/scheduler/score_optimal/predictor_cost.h"
#include "sigmaflow/scheduler/score_optimal/schedule_fit.h"
#include "sigmaflow/scheduler/stock.h"
#include "sigmaflow/testing/node_runner.h"

using namespace sf;

static double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

static std::shared_ptr<const Model> preset(testing::NodeRunner& r, const std::string& json) {
  auto m = r.run("GaussianMixtureModel", json);
  if (!m.ok) {
    std::fprintf(stderr, "%s\n", m.error.c_str());
    std::exit(1);
  }
  return std::dynamic_pointer_cast<const Model>(m.outputs[0].object());
}

static std::string random_mixture_json(int64_t K, int64_t d) {
  at::Generator g = at::make_generator<at::CPUGeneratorImpl>(3);
  at::Tensor mu = at::randn({K, d}, g, at::TensorOptions().dtype(at::kDouble)) * 0.5;
  std::string means = "[";
  for (int64_t k = 0; k < K; ++k) {
    means += std::string(k ? "," : "") + "[";
    for (int64_t j = 0; j < d; ++j) means += (j ? "," : "") + std::to_string(mu[k][j].item<double>());
    means += "]";
  }
  means += "]";
  std::string stds = "[";
  for (int64_t k = 0; k < K; ++k) stds += std::string(k ? "," : "") + "0.1";
  stds += "]";
  return R"({"preset": "custom", "means": {"__value__": )" + means + R"(}, "stds": {"__value__": )" + stds + "}}";
}

static std::vector<double> so_schedule(const so::CostEstimate& est, int64_t n, double floor) {
  so::FitOptions f;
  f.floor = floor;
  auto s = so::fit_schedule(est.curve, n - 1, f);
  s.push_back(0.0);
  return diffusion::Sigmas(s).rounded_to_float32().values();
}

static int cost_bench(testing::NodeRunner& runner) {
  std::vector<std::pair<std::string, std::string>> models = {{"2-D clusters2d", R"({"preset": "clusters2d"})"},
                                                             {"2-D ring8", R"({"preset": "ring8"})"},
                                                             {"64-D powerlaw64", R"({"preset": "powerlaw64"})"},
                                                             {"784-D, 100 components", random_mixture_json(100, 784)}};
  std::printf("| model | estimate NFE | estimate s | heun-20 x1000 NFE | heun-20 x1000 s |\n|---|---|---|---|---|\n");
  for (const auto& [name, json] : models) {
    auto m = preset(runner, json);
    so::EstimateOptions o;  // defaults: grid 256, particles 512, reverse 128
    double t0 = now_s();
    auto est = so::estimate_corrector_cost(*m, o);
    double t1 = now_s();
    std::vector<int64_t> shape{1000};
    for (auto v : m->sample_shape()) shape.push_back(v);
    auto sig = diffusion::Sigmas(schedules::karras(20, m->sigma_min(), m->sigma_max())).rounded_to_float32().values();
    diffusion::TableSampler h(*diffusion::find_sampler("heun"), SamplerSettings{});
    SampleContext ctx;
    double t2 = now_s();
    h.sample(*m, at::randn(shape) * 80, sig, ctx);
    double t3 = now_s();
    std::printf("| %s | %lld | %.3f | %lld | %.3f |\n", name.c_str(), static_cast<long long>(est.nfe), t1 - t0,
                static_cast<long long>(ctx.nfe * 1000), t3 - t2);
  }
  return 0;
}

static int quality_bench(testing::NodeRunner& runner, bool with_predictor) {
  const std::vector<std::string> presets = {"clusters2d", "ring8", "powerlaw64"};
  const std::vector<std::string> samplers = {"euler", "heun", "dpmpp_2m"};
  const std::vector<int64_t> steps = {5, 10, 20, 40};
  const std::vector<std::string> stock = {"karras", "exponential", "ays_like", "uniform"};
  std::vector<std::pair<std::string, double>> variants = {
      {"so_floor0", 0.0}, {"so_floor0.01", 0.01}, {"so_floor0.1", 0.1}, {"so_floor1", 1.0}};
  std::map<std::string, std::vector<double>> ratios_te, ratios_sw;  // best stock / variant, per cell
  for (const auto& p : presets) {
    auto m = preset(runner, R"({"preset": ")" + p + R"(", "dtype": "float64"})");
    so::EstimateOptions o;
    auto est = so::estimate_corrector_cost(*m, o);
    const int64_t batch = 1000;
    std::vector<int64_t> shape{batch};
    for (auto v : m->sample_shape()) shape.push_back(v);
    at::Generator g = at::make_generator<at::CPUGeneratorImpl>(11);
    at::Tensor noise = at::randn(shape, g, at::TensorOptions().dtype(at::kFloat)).to(at::kDouble);
    auto ref_sig =
        diffusion::Sigmas(schedules::karras(1000, m->sigma_min(), m->sigma_max())).rounded_to_float32().values();
    diffusion::TableSampler ho(*diffusion::find_sampler("heun"), SamplerSettings{});
    SampleContext rc;
    at::Tensor ref = ho.sample(*m, noise * ref_sig[0], ref_sig, rc);
    at::Tensor data = m->exact()->sample_data(batch, 12);
    std::printf("\n### %s (trajectory error / sliced W2; ratio = best stock / this)\n\n| sampler | N |", p.c_str());
    std::vector<std::string> cols = stock;
    for (auto& v : variants) cols.push_back(v.first);
    if (with_predictor) cols.push_back("so_predictor");
    for (auto& c : cols) std::printf(" %s |", c.c_str());
    std::printf("\n|---|---|");
    for (size_t i = 0; i < cols.size(); ++i) std::printf("---|");
    std::printf("\n");
    for (const auto& sname : samplers) {
      for (int64_t n : steps) {
        std::map<std::string, std::vector<double>> sigs;
        for (const auto& s : stock) {
          if (s == "karras") sigs[s] = schedules::karras(n, m->sigma_min(), m->sigma_max()).values();
          if (s == "exponential") sigs[s] = schedules::exponential(n, m->sigma_min(), m->sigma_max()).values();
          if (s == "ays_like") sigs[s] = schedules::ays_like(n, m->sigma_min(), m->sigma_max()).values();
          if (s == "uniform") {
            sigs[s] = schedules::linspace(m->sigma_max(), m->sigma_min(), n);
            sigs[s].push_back(0);
          }
          sigs[s] = diffusion::Sigmas(sigs[s]).rounded_to_float32().values();
        }
        for (auto& [vname, floor] : variants) sigs[vname] = so_schedule(est, n, floor);
        if (with_predictor) {
          so::PredictorOptions po;
          po.estimate.particles = m->sample_shape()[0] > 8 ? 128 : 256;
          po.iterations = 4;
          auto pr = so::predictor_optimal_schedule(*m, n - 1, po);
          pr.schedule.push_back(0);
          sigs["so_predictor"] = diffusion::Sigmas(pr.schedule).rounded_to_float32().values();
        }
        std::map<std::string, std::pair<double, double>> res;
        for (const auto& c : cols) {
          diffusion::TableSampler smp(*diffusion::find_sampler(sname), SamplerSettings{});  // KSamplerSelect's
          SampleContext ctx;
          at::Tensor out = smp.sample(*m, noise * sigs[c][0], sigs[c], ctx);
          res[c] = {diffusion::rms_distance(out, ref), diffusion::sliced_wasserstein(out, data, 64, 5)};
        }
        double best_te = 1e300, best_sw = 1e300;
        for (const auto& s : stock) {
          best_te = std::min(best_te, res[s].first);
          best_sw = std::min(best_sw, res[s].second);
        }
        std::printf("| %s | %lld |", sname.c_str(), static_cast<long long>(n));
        for (const auto& c : cols) {
          std::printf(" %.3g / %.3g", res[c].first, res[c].second);
          if (c.rfind("so_", 0) == 0) {
            std::printf(" (x%.2f)", best_te / res[c].first);
            ratios_te[c].push_back(best_te / res[c].first);
            ratios_sw[c].push_back(best_sw / res[c].second);
          }
          std::printf(" |");
        }
        std::printf("\n");
        std::fflush(stdout);
      }
    }
  }
  std::printf("\n### Summary over all cells (ratio best-stock / variant; > 1 means the variant is better)\n\n");
  std::printf(
      "| variant | TE geo-mean | TE min | TE wins/ties/losses | SW geo-mean | SW min |\n|---|---|---|---|---|---|\n");
  for (const auto& [name, r] : ratios_te) {
    double lg = 0, mn = 1e300, lsw = 0, mnsw = 1e300;
    int w = 0, t = 0, l = 0;
    for (double v : r) {
      lg += std::log(v);
      mn = std::min(mn, v);
      (v > 1.02 ? w : v < 0.98 ? l : t)++;
    }
    for (double v : ratios_sw.at(name)) {
      lsw += std::log(v);
      mnsw = std::min(mnsw, v);
    }
    std::printf("| %s | %.2f | %.2f | %d/%d/%d | %.2f | %.2f |\n", name.c_str(), std::exp(lg / r.size()), mn, w, t, l,
                std::exp(lsw / r.size()), mnsw);
  }
  return 0;
}

int main(int argc, char** argv) {
  host::configure_threads(static_cast<int>(std::thread::hardware_concurrency()));
  testing::NodeRunner runner({SF_PLUGIN_DIR});
  std::string what = argc > 1 ? argv[1] : "cost";
  if (what == "cost") return cost_bench(runner);
  if (what == "quality") return quality_bench(runner, argc > 2 && std::string(argv[2]) == "--predictor");
  std::fprintf(stderr, "usage: bench_score_optimal cost|quality [--predictor]\n");
  return 2;
}
