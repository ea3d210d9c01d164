// The sampler-aware optimiser (optimal_steps) against the stock schedules, on fresh noise.
//   bench_optimal_steps quality [key=value ...]   every target x sampler x N cell: trajectory
//        error (RMS against heun with 1024 karras steps from the same noise), mode flips, the
//        error over non-flipped particles, sliced W2 and mode coverage against exact samples
//   bench_optimal_steps cost [key=value ...]      NFE and seconds of one plan per target and sampler
// Keys: targets=clusters2d,ring8,powerlaw64,grid9  samplers=euler,heun,dpmpp_2m  steps=5,10,20,40
//       M= (default 512; 256 for heun, dpm_2) K= grid=log|cost share= objective= ratio= exact= rank=
//       substeps= seed= nmax= batch= (default 4000 in 2-D, 2000 otherwise) eval_seed=
//       select=on|off (held-out selection, default on: the cell shows the schedule the node returns)
//       verbose=1 (each selection's summary on stderr)
#include <ATen/ATen.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include <unistd.h>

#include "exec/threads.h"
#include "sigmaflow/diffusion/gaussian_mixture.h"
#include "sigmaflow/diffusion/metrics.h"
#include "sigmaflow/diffusion/noise.h"
#include "sigmaflow/diffusion/samplers.h"
#include "sigmaflow/diffusion/sigmas.h"
#include "sigmaflow/scheduler/optimal_steps/optimal_steps.h"
#include "sigmaflow/scheduler/optimal_steps/step_rules.h"
#include "sigmaflow/scheduler/stock.h"

using namespace sf;

namespace {

std::map<std::string, std::string> g_args;
std::string arg(const std::string& k, const std::string& dflt) {
  auto it = g_args.find(k);
  return it == g_args.end() ? dflt : it->second;
}
std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string t; std::getline(ss, t, ',');) out.push_back(t);
  return out;
}
double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// A fourth multi-modal 2-D target: a 3 x 3 grid of modes 1.5 apart with three widths and unequal weights.
diffusion::MixtureParams grid9() {
  diffusion::MixtureParams p;
  p.name = "grid9";
  p.means = at::empty({9, 2}, at::kDouble);
  p.variances = at::empty({9, 2}, at::kDouble);
  p.weights = at::empty({9}, at::kDouble);
  const double stds[3] = {0.03, 0.08, 0.15};
  for (int k = 0; k < 9; ++k) {
    int i = k / 3, j = k % 3;
    p.means[k][0] = 1.5 * (i - 1);
    p.means[k][1] = 1.5 * (j - 1);
    p.variances[k].fill_(stds[(i + j) % 3] * stds[(i + j) % 3]);
    p.weights[k] = 1.0 + (k % 4);
  }
  p.weights /= p.weights.sum();
  p.sample_shape = {2};
  return p;
}

std::shared_ptr<diffusion::GaussianMixture> target(const std::string& name) {
  diffusion::MixtureParams p = name == "grid9" ? grid9() : diffusion::mixture_preset(name);
  return std::make_shared<diffusion::GaussianMixture>(p, 0.002, 80.0, c10::Device(c10::kCPU), at::kDouble);
}

std::string bench_cache_dir() { return "/tmp/sigmaflow-bench-oss-" + std::to_string(::getpid()); }

oss::OptimalStepsRequest request_from_args(const std::string& sampler) {
  oss::OptimalStepsRequest rq;
  rq.sampler = sampler;
  rq.max_steps = std::stoll(arg("nmax", "40"));
  rq.grid_size = std::stoll(arg("K", "128"));
  rq.grid = arg("grid", rq.grid);
  rq.log_share = std::stod(arg("share", "0.5"));
  // The named schedule's defaults: 512 training noises, 256 for the two-evaluation samplers.
  const bool two_eval = oss::step_rule(sampler, rq.settings).two_evaluations();
  rq.training_noises = std::stoll(arg("M", two_eval ? "256" : "512"));
  rq.substeps = std::stoll(arg("substeps", std::to_string(rq.substeps)));
  rq.ratio_bound = std::stod(arg("ratio", "2"));
  rq.exact_candidates = std::stoll(arg("exact", std::to_string(rq.exact_candidates)));
  rq.objective = arg("objective", rq.objective);
  rq.rank_particles = std::stoll(arg("rank", std::to_string(rq.rank_particles)));
  rq.seed = std::stoull(arg("seed", "0"));
  rq.select = arg("select", "on") == "on";
  // One plan per target and sampler serves every N (and the selection per N is computed once).
  rq.cache_dir = bench_cache_dir();
  return rq;
}

// Index of the nearest component mean per sample.
at::Tensor modes(const at::Tensor& x, const at::Tensor& means) {
  return at::cdist(x.reshape({x.size(0), -1}), means.reshape({means.size(0), -1})).argmin(1);
}

struct Cell {
  double te = 0, te_kept = 0, sw = 0, coverage = 0;
  int64_t flips = 0;
};

Cell measure(const diffusion::GaussianMixture& m, const std::string& sampler, const std::vector<double>& sigmas,
             const at::Tensor& noise, const at::Tensor& ref, const diffusion::SlicedWassersteinReference& swr) {
  diffusion::TableSampler smp(*diffusion::find_sampler(sampler), SamplerSettings{});
  SampleContext ctx;
  at::Tensor out = smp.sample(m, noise * sigmas[0], sigmas, ctx);
  Cell c;
  c.te = diffusion::rms_distance(out, ref);
  at::Tensor same = modes(out, m.component_means()).eq(modes(ref, m.component_means()));
  c.flips = same.numel() - same.sum().item<int64_t>();
  at::Tensor e2 = (out - ref).reshape({out.size(0), -1}).pow(2).sum(1);
  c.te_kept = e2.masked_select(same).mean().sqrt().item<double>();
  c.sw = swr.distance(out);
  c.coverage = diffusion::mode_coverage_tv(out, m.component_means(), m.component_weights());
  return c;
}

struct Summary {
  std::vector<double> ratios;
  int wins = 0, ties = 0, losses = 0, sw_worse = 0, cov_worse = 0;
};

int quality() {
  const auto targets = split(arg("targets", "clusters2d,ring8,powerlaw64,grid9"));
  const auto samplers = split(arg("samplers", "euler,heun,dpmpp_2m"));
  std::vector<int64_t> steps;
  for (const auto& s : split(arg("steps", "5,10,20,40"))) steps.push_back(std::stoll(s));
  const std::vector<std::string> stock = {"karras", "exponential", "ays_like"};
  std::map<std::string, Summary> sum;  // per sampler and "all"
  for (const auto& t : targets) {
    auto m = target(t);
    const int64_t d = m->dim();
    const int64_t batch = std::stoll(arg("batch", "0")) > 0 ? std::stoll(arg("batch", "0")) : (d <= 2 ? 4000 : 2000);
    const uint64_t eval_seed = std::stoull(arg("eval_seed", "1000"));
    at::Tensor noise = diffusion::seeded_normal(eval_seed, {batch, d}, c10::Device(c10::kCPU), at::kDouble);
    auto ref_sig =
        diffusion::Sigmas(schedules::karras(1024, m->sigma_min(), m->sigma_max())).rounded_to_float32().values();
    diffusion::TableSampler heun(*diffusion::find_sampler("heun"), SamplerSettings{});
    SampleContext rc;
    at::Tensor ref = heun.sample(*m, noise * ref_sig[0], ref_sig, rc);
    at::Tensor data_a = m->sample_data(batch, eval_seed + 1), data_b = m->sample_data(batch, eval_seed + 2);
    diffusion::SlicedWassersteinReference swr(data_a, 64, 5);
    const double sw_floor = swr.distance(data_b);
    const double cov_floor = diffusion::mode_coverage_tv(data_b, m->component_means(), m->component_weights());
    std::printf("\n### %s (d = %lld, eval batch %lld, fresh noise seed %llu; SW floor %.4f, coverage floor %.4f)\n\n",
                t.c_str(), static_cast<long long>(d), static_cast<long long>(batch),
                static_cast<unsigned long long>(eval_seed), sw_floor, cov_floor);
    std::printf(
        "| sampler | N | karras | exponential | ays_like | optimal_steps | ratio | flips (oss / best stock) | "
        "RMS without flips (oss / best stock) | SW (oss / best stock) | coverage TV (oss / best) |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (const auto& s : samplers) {
      oss::OptimalStepsRequest rq = request_from_args(s);
      double t0 = now_s();
      oss::OptimalStepsPlan plan = oss::optimal_steps_plan(*m, rq);
      double secs = now_s() - t0;
      int64_t selection_nfe = 0;
      for (int64_t n : steps) {
        rq.steps = n;
        const double t1 = now_s();
        oss::OptimalStepsResult chosen = oss::optimal_steps_schedule(*m, rq);
        secs += now_s() - t1;
        std::string picked = "dp";
        if (chosen.diagnostics->selected) {
          const auto& sel = chosen.diagnostics->selection;
          selection_nfe += sel.nfe;
          picked = sel.scores[sel.chosen].label + " @" + std::to_string(sel.held_out);
          if (arg("verbose", "0") == "1")
            std::fprintf(stderr, "%s %s N=%lld: %s\n", t.c_str(), s.c_str(), static_cast<long long>(n),
                         sel.summary.c_str());
        }
        std::map<std::string, Cell> cells;
        for (const auto& st : stock) {
          std::vector<double> sig = st == "karras"        ? schedules::karras(n, m->sigma_min(), m->sigma_max())
                                    : st == "exponential" ? schedules::exponential(n, m->sigma_min(), m->sigma_max())
                                                          : schedules::ays_like(n, m->sigma_min(), m->sigma_max());
          cells[st] = measure(*m, s, diffusion::Sigmas(sig).rounded_to_float32().values(), noise, ref, swr);
        }
        auto sig = diffusion::Sigmas(chosen.sigmas).rounded_to_float32().values();
        Cell o = measure(*m, s, sig, noise, ref, swr);
        std::string best = "karras";
        for (const auto& st : stock)
          if (cells[st].te < cells[best].te) best = st;
        const Cell& b = cells[best];
        double ratio = b.te / o.te;
        double best_sw = std::min({cells["karras"].sw, cells["exponential"].sw, cells["ays_like"].sw});
        double best_cov =
            std::min({cells["karras"].coverage, cells["exponential"].coverage, cells["ays_like"].coverage});
        for (const std::string& key : {s, std::string("all")}) {
          Summary& sm = sum[key];
          sm.ratios.push_back(ratio);
          (ratio > 1.03 ? sm.wins : ratio < 1 / 1.03 ? sm.losses : sm.ties)++;
          if (o.sw > best_sw + sw_floor) sm.sw_worse++;
          if (o.coverage > best_cov + cov_floor) sm.cov_worse++;
        }
        std::printf(
            "| %s | %lld | %.4g | %.4g | %.4g | %.4g (%s) | x%.2f%s | %lld / %lld (%s) | %.4g / %.4g | %.4f / %.4f | "
            "%.4f / %.4f |\n",
            s.c_str(), static_cast<long long>(n), cells["karras"].te, cells["exponential"].te, cells["ays_like"].te,
            o.te, picked.c_str(), ratio,
            ratio > 1.03       ? " W"
            : ratio < 1 / 1.03 ? " **L**"
                               : " T",
            static_cast<long long>(o.flips), static_cast<long long>(b.flips), best.c_str(), o.te_kept, b.te_kept, o.sw,
            best_sw, o.coverage, best_cov);
        std::fflush(stdout);
      }
      std::printf(
          "| %s plan | | NFE %lld + selection %lld | %.2f s | train err N=5/10/20/40: %.4g %.4g %.4g %.4g | | | | | | "
          "|\n",
          s.c_str(), static_cast<long long>(plan.nfe), static_cast<long long>(selection_nfe), secs,
          plan.training_error[4], plan.training_error[9], plan.training_error[19], plan.training_error[39]);
    }
  }
  std::printf(
      "\n| sampler | cells | W / T / L (3 %%) | geo-mean | worst | SW worse beyond floor | coverage worse |\n"
      "|---|---|---|---|---|---|---|\n");
  for (const auto& [k, sm] : sum) {
    double lg = 0, mn = 1e300;
    for (double r : sm.ratios) {
      lg += std::log(r);
      mn = std::min(mn, r);
    }
    std::printf("| %s | %zu | %d / %d / %d | %.3f | %.3f | %d | %d |\n", k.c_str(), sm.ratios.size(), sm.wins, sm.ties,
                sm.losses, std::exp(lg / static_cast<double>(sm.ratios.size())), mn, sm.sw_worse, sm.cov_worse);
  }
  return 0;
}

std::shared_ptr<diffusion::GaussianMixture> random_784() {
  diffusion::MixtureParams p;
  at::Generator g = diffusion::cpu_generator(3);
  p.means = at::randn({100, 784}, g, at::TensorOptions().dtype(at::kFloat)).to(at::kDouble) * 0.5;
  p.variances = at::full({100, 784}, 0.01, at::kDouble);
  p.weights = at::full({100}, 0.01, at::kDouble);
  p.sample_shape = {784};
  p.name = "custom";
  return std::make_shared<diffusion::GaussianMixture>(p, 0.002, 80.0, c10::Device(c10::kCPU), at::kFloat);
}

int cost() {
  const auto targets = split(arg("targets", "clusters2d,powerlaw64,mixture784"));
  const auto samplers = split(arg("samplers", "euler,heun,dpmpp_2m"));
  std::printf(
      "| target | sampler | M | NFE | x score-optimal estimate (393,728) | seconds |\n|---|---|---|---|---|---|\n");
  for (const auto& t : targets) {
    auto m = t == "mixture784" ? random_784() : target(t);
    for (const auto& s : samplers) {
      oss::OptimalStepsRequest rq = request_from_args(s);
      rq.cache_dir.clear();  // every figure measured, the score-optimal estimate included
      rq.steps = std::stoll(arg("N", "20"));
      double t0 = now_s();
      auto r = oss::optimal_steps_schedule(*m, rq);
      const int64_t sel = r.diagnostics->selected ? r.diagnostics->selection.nfe : 0;
      std::printf("| %s | %s | %lld | %lld (selection %lld, held out %lld) | %.2f | %.2f |\n", t.c_str(), s.c_str(),
                  static_cast<long long>(rq.training_noises), static_cast<long long>(r.diagnostics->nfe),
                  static_cast<long long>(sel),
                  static_cast<long long>(r.diagnostics->selected ? r.diagnostics->selection.held_out : 0),
                  static_cast<double>(r.diagnostics->nfe) / 393728.0, now_s() - t0);
      std::fflush(stdout);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  host::configure_threads(static_cast<int>(std::thread::hardware_concurrency()));
  std::string what = argc > 1 ? argv[1] : "quality";
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto eq = a.find('=');
    if (eq == std::string::npos) {
      std::fprintf(stderr, "arguments are key=value, got '%s'\n", a.c_str());
      return 2;
    }
    g_args[a.substr(0, eq)] = a.substr(eq + 1);
  }
  try {
    if (what == "quality" || what == "cost") {
      const int rc = what == "quality" ? quality() : cost();
      std::filesystem::remove_all(bench_cache_dir());
      return rc;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "usage: bench_optimal_steps quality|cost [key=value ...]\n");
  return 2;
}
