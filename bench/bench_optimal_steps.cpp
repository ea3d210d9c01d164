// The sampler-aware optimiser (optimal_steps) against the stock schedules, on fresh noise.
//   bench_optimal_steps quality [key=value ...]   every target x sampler x N cell: trajectory
//        error (RMS against heun with 1024 karras steps from the same noise), mode flips, the
//        error over non-flipped particles, sliced W2 and mode coverage against exact samples
//   bench_optimal_steps learned [key=value ...]   the same cells on MLPs trained on three mixtures no
//        other benchmark uses (heavy2d: one tight heavy mode; scales2d: two scales; aniso32: 32-D);
//        trajectory error against the network's own ODE (heun, ref_steps=512 karras steps), SW
//        and coverage against the true mixture. Keys as quality, plus train_steps= (6000),
//        eval_seeds= (several fresh-noise sets, e.g. 1000,2000)
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
#include "shrinkage.h"
#include "sigmaflow/diffusion/gaussian_mixture.h"
#include "sigmaflow/diffusion/metrics.h"
#include "sigmaflow/diffusion/noise.h"
#include "sigmaflow/diffusion/samplers.h"
#include "sigmaflow/diffusion/sigmas.h"
#include "sigmaflow/diffusion/training.h"
#include "sigmaflow/scheduler/optimal_steps/optimal_steps.h"
#include "sigmaflow/scheduler/stock.h"
#include "trained_network.h"

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
  const bool two_eval = diffusion::find_sampler(sampler)->traits.evaluations_per_step == 2;
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

// What a cell is measured on: the MODEL the schedules are optimised for and sampled with, and
// the true data distribution (an exact mixture) for modes, sliced W2 and coverage. For the exact
// targets both are the mixture; for learned targets the model is a network trained on the mixture's samples.
struct BenchTarget {
  std::string name;
  std::shared_ptr<Model> model;
  std::shared_ptr<diffusion::GaussianMixture> truth;
  std::string note;  // how the model was made
};

struct Cell {
  double te = 0, te_kept = 0, sw = 0, coverage = 0;
  int64_t flips = 0;
};

// One evaluation set: fresh noise, the model's converged ODE outputs from it, true data.
struct EvalSet {
  at::Tensor noise, ref;
  std::unique_ptr<diffusion::SlicedWassersteinReference> swr;
  double sw_floor = 0, cov_floor = 0;
};

EvalSet eval_set(const BenchTarget& t, int64_t batch, uint64_t eval_seed, int64_t ref_steps) {
  const Model& m = *t.model;
  EvalSet e;
  e.noise = diffusion::seeded_normal(eval_seed, {batch, t.truth->dim()}, c10::Device(c10::kCPU), at::kDouble);
  auto ref_sig =
      diffusion::Sigmas(schedules::karras(ref_steps, m.sigma_min(), m.sigma_max())).rounded_to_float32().values();
  diffusion::TableSampler heun(*diffusion::find_sampler("heun"), SamplerSettings{});
  SampleContext rc;
  e.ref = heun.sample(m, (e.noise * ref_sig[0]).to(m.dtype()), ref_sig, rc).to(at::kDouble);
  at::Tensor data_a = t.truth->sample_data(batch, eval_seed + 1), data_b = t.truth->sample_data(batch, eval_seed + 2);
  e.swr = std::make_unique<diffusion::SlicedWassersteinReference>(data_a, 64, 5);
  e.sw_floor = e.swr->distance(data_b);
  e.cov_floor = diffusion::mode_coverage_tv(data_b, t.truth->component_means(), t.truth->component_weights());
  return e;
}

Cell measure(const BenchTarget& t, const std::string& sampler, const std::vector<double>& sigmas, const EvalSet& e) {
  diffusion::TableSampler smp(*diffusion::find_sampler(sampler), SamplerSettings{});
  SampleContext ctx;
  at::Tensor out = smp.sample(*t.model, (e.noise * sigmas[0]).to(t.model->dtype()), sigmas, ctx).to(at::kDouble);
  const at::Tensor means = t.truth->component_means().to(at::kDouble);
  Cell c;
  c.te = diffusion::rms_distance(out, e.ref);
  at::Tensor same = modes(out, means).eq(modes(e.ref, means));
  c.flips = same.numel() - same.sum().item<int64_t>();
  at::Tensor e2 = (out - e.ref).reshape({out.size(0), -1}).pow(2).sum(1);
  c.te_kept = e2.masked_select(same).mean().sqrt().item<double>();
  c.sw = e.swr->distance(out);
  c.coverage = diffusion::mode_coverage_tv(out, t.truth->component_means(), t.truth->component_weights());
  return c;
}

struct Summary {
  std::vector<double> ratios;
  int wins = 0, ties = 0, losses = 0, sw_worse = 0, cov_worse = 0;
};

std::vector<double> stock_schedule(const std::string& name, int64_t n, const Model& m) {
  std::vector<double> sig = (name == "karras"        ? schedules::karras(n, m.sigma_min(), m.sigma_max())
                             : name == "exponential" ? schedules::exponential(n, m.sigma_min(), m.sigma_max())
                                                     : schedules::ays_like(n, m.sigma_min(), m.sigma_max()))
                                .values();
  return diffusion::Sigmas(sig).rounded_to_float32().values();
}

// One row of the quality table: the returned schedule against the stock ones on one eval set.
// `dp` is the DP's own schedule and `dp_train` its training error: their ratio to the fresh-noise
// error shows over-fitting.
void quality_cell(const BenchTarget& t, const std::string& s, int64_t n, const oss::OptimalStepsResult& chosen,
                  const std::string& picked, const std::vector<double>& dp, double dp_train, const EvalSet& e,
                  std::map<std::string, Summary>& sum) {
  const std::vector<std::string> stock = {"karras", "exponential", "ays_like"};
  std::map<std::string, Cell> cells;
  for (const auto& st : stock) cells[st] = measure(t, s, stock_schedule(st, n, *t.model), e);
  Cell o = measure(t, s, diffusion::Sigmas(chosen.sigmas).rounded_to_float32().values(), e);
  std::string best = "karras";
  for (const auto& st : stock)
    if (cells[st].te < cells[best].te) best = st;
  const Cell& b = cells[best];
  const double ratio = b.te / o.te;
  const double dp_fresh = measure(t, s, diffusion::Sigmas(dp).rounded_to_float32().values(), e).te;
  const double best_sw = std::min({cells["karras"].sw, cells["exponential"].sw, cells["ays_like"].sw});
  const double best_cov =
      std::min({cells["karras"].coverage, cells["exponential"].coverage, cells["ays_like"].coverage});
  for (const std::string& key : {s, std::string("all")}) {
    Summary& sm = sum[key];
    sm.ratios.push_back(ratio);
    (ratio > 1.03 ? sm.wins : ratio < 1 / 1.03 ? sm.losses : sm.ties)++;
    if (o.sw > best_sw + e.sw_floor) sm.sw_worse++;
    if (o.coverage > best_cov + e.cov_floor) sm.cov_worse++;
  }
  std::printf(
      "| %s | %lld | %.4g | %.4g | %.4g | %.4g (%s) | x%.2f%s | %lld / %lld (%s) | %.4g / %.4g | %.4f / %.4f | "
      "%.4f / %.4f | x%.2f (%.2f) |\n",
      s.c_str(), static_cast<long long>(n), cells["karras"].te, cells["exponential"].te, cells["ays_like"].te, o.te,
      picked.c_str(), ratio,
      ratio > 1.03       ? " W"
      : ratio < 1 / 1.03 ? " **L**"
                         : " T",
      static_cast<long long>(o.flips), static_cast<long long>(b.flips), best.c_str(), o.te_kept, b.te_kept, o.sw,
      best_sw, o.coverage, best_cov, b.te / dp_fresh, dp_fresh / dp_train);
  std::fflush(stdout);
  if (arg("variants", "0") != "1") return;
  // Regularised DP schedules on the same fresh noise: their ratio to the best stock schedule.
  std::printf("|   | variants | ");
  for (double st : {1.0, 4.0, 16.0}) {
    auto v = bench::smoothed_in_log_sigma(dp, st);
    std::printf("smooth %g: %s | ", st,
                v.empty() ? "-" : ("x" + std::to_string(b.te / measure(t, s, v, e).te).substr(0, 4)).c_str());
  }
  for (double w : {0.5, 0.75}) {
    auto v = bench::blended_in_log_sigma(dp, stock_schedule(best, n, *t.model), w);
    std::printf("blend %g with %s: x%.2f | ", w, best.c_str(), b.te / measure(t, s, v, e).te);
  }
  std::printf("\n");
}

void print_summary(const std::map<std::string, Summary>& sum) {
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
}

// Every sampler x N cell of one target, on every evaluation seed (one plan per sampler).
void quality_target(const BenchTarget& t, int64_t ref_steps, std::map<std::string, Summary>& sum) {
  const auto samplers = split(arg("samplers", "euler,heun,dpmpp_2m"));
  std::vector<int64_t> steps;
  for (const auto& s : split(arg("steps", "5,10,20,40"))) steps.push_back(std::stoll(s));
  const int64_t d = t.truth->dim();
  const int64_t batch = std::stoll(arg("batch", "0")) > 0 ? std::stoll(arg("batch", "0")) : (d <= 2 ? 4000 : 2000);
  std::vector<EvalSet> evals;
  for (const auto& es : split(arg("eval_seeds", arg("eval_seed", "1000"))))
    evals.push_back(eval_set(t, batch, std::stoull(es), ref_steps));
  std::printf(
      "\n### %s (d = %lld%s, eval batch %lld, %zu fresh-noise seed(s) (%s); SW floor %.4f, coverage floor %.4f)\n\n",
      t.name.c_str(), static_cast<long long>(d), t.note.c_str(), static_cast<long long>(batch), evals.size(),
      arg("eval_seeds", arg("eval_seed", "1000")).c_str(), evals[0].sw_floor, evals[0].cov_floor);
  std::printf(
      "| sampler | N | karras | exponential | ays_like | optimal_steps | ratio | flips (oss / best stock) | "
      "RMS without flips (oss / best stock) | SW (oss / best stock) | coverage TV (oss / best) | DP alone: ratio "
      "(fresh / training error) |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const auto& s : samplers) {
    oss::OptimalStepsRequest rq = request_from_args(s);
    double t0 = now_s();
    oss::OptimalStepsPlan plan = oss::optimal_steps_plan(*t.model, rq);
    double secs = now_s() - t0;
    int64_t selection_nfe = 0;
    for (int64_t n : steps) {
      rq.steps = n;
      const double t1 = now_s();
      oss::OptimalStepsResult chosen = oss::optimal_steps_schedule(*t.model, rq);
      secs += now_s() - t1;
      std::string picked = "dp";
      if (chosen.diagnostics->selected) {
        const auto& sel = chosen.diagnostics->selection;
        selection_nfe += sel.nfe;
        picked = sel.scores[sel.chosen].label + " @" + std::to_string(sel.held_out);
        if (arg("verbose", "0") == "1")
          std::fprintf(stderr, "%s %s N=%lld: %s\n", t.name.c_str(), s.c_str(), static_cast<long long>(n),
                       sel.summary.c_str());
      }
      for (const auto& e : evals)
        quality_cell(t, s, n, chosen, picked, plan.schedules[static_cast<size_t>(n - 1)],
                     plan.training_error[static_cast<size_t>(n - 1)], e, sum);
    }
    std::printf(
        "| %s plan | | NFE %lld + selection %lld | %.2f s | train err N=5/10/20/40: %.4g %.4g %.4g %.4g | | | | | | "
        "|\n",
        s.c_str(), static_cast<long long>(plan.nfe), static_cast<long long>(selection_nfe), secs,
        plan.training_error[4], plan.training_error[9], plan.training_error[19], plan.training_error[39]);
  }
}

int quality() {
  std::map<std::string, Summary> sum;  // per sampler and "all"
  for (const auto& name : split(arg("targets", "clusters2d,ring8,powerlaw64,grid9"))) {
    auto m = target(name);
    quality_target({name, m, m, ""}, 1024, sum);
  }
  print_summary(sum);
  return 0;
}

// Learned targets (none of the exact benchmark's): the truth is a mixture, the model an MLP
// trained on 20,000 of its samples with EDM's lognormal levels, as TrainDenoiser trains one.
diffusion::MixtureParams learned_truth(const std::string& name) {
  diffusion::MixtureParams p;
  p.name = name;
  at::Generator g = diffusion::cpu_generator(11);
  const auto opt = at::TensorOptions().dtype(at::kDouble);
  if (name == "heavy2d") {  // one tight heavy mode among four broad light ones
    p.means = at::tensor({0.0, 0.0, 1.5, 1.5, -1.5, 1.5, 1.5, -1.5, -1.5, -1.5}, opt).view({5, 2});
    p.variances = at::tensor({1e-4, 1e-4, 0.06, 0.06, 0.06, 0.06, 0.06, 0.06, 0.06, 0.06}, opt).view({5, 2});
    p.weights = at::tensor({0.6, 0.1, 0.1, 0.1, 0.1}, opt);
  } else if (name == "scales2d") {  // three clusters of four tiny modes: structure at radius 2 and 0.25
    p.means = at::empty({12, 2}, opt);
    for (int c = 0; c < 3; ++c)
      for (int k = 0; k < 4; ++k) {
        const double a = 2 * M_PI * c / 3, b = 2 * M_PI * k / 4 + 0.3;
        p.means[c * 4 + k][0] = 2 * std::cos(a) + 0.25 * std::cos(b);
        p.means[c * 4 + k][1] = 2 * std::sin(a) + 0.25 * std::sin(b);
      }
    p.variances = at::full({12, 2}, 4e-4, opt);
    p.weights = at::full({12}, 1.0 / 12, opt);
  } else if (name == "aniso32") {  // 32-D, six components, per-dimension scales from 0.02 to 0.5
    p.means = at::randn({6, 32}, g, opt);
    p.variances = at::exp(at::empty({6, 32}, opt).uniform_(std::log(0.02), std::log(0.5), g) * 2);
    p.weights = at::tensor({0.3, 0.25, 0.15, 0.12, 0.1, 0.08}, opt);
  } else {
    throw std::invalid_argument("unknown learned target '" + name + "' (heavy2d, scales2d, aniso32)");
  }
  p.sample_shape = {p.means.size(1)};
  return p;
}

int learned() {
  std::map<std::string, Summary> sum;
  const int64_t train_steps = std::stoll(arg("train_steps", "6000"));
  for (const auto& name : split(arg("targets", "heavy2d,scales2d,aniso32"))) {
    auto truth = std::make_shared<diffusion::GaussianMixture>(learned_truth(name), 0.002, 80.0, c10::Device(c10::kCPU),
                                                              at::kDouble);
    const int64_t width = truth->dim() > 2 ? 256 : 128;
    at::Tensor data = truth->sample_data(20000, 7).to(at::kFloat);
    bench::TrainedNetwork net = bench::train_network(
        data, train_steps, std::make_shared<diffusion::LogNormalLevels>(-1.2, 1.2, 0.002, 80), 1, width, 3);
    char note[160];
    std::snprintf(note, sizeof note, ", MLP %lldx3 trained %lld steps in %.0f s", static_cast<long long>(width),
                  static_cast<long long>(train_steps), net.seconds);
    quality_target({name, net.model, truth, note}, std::stoll(arg("ref_steps", "512")), sum);
  }
  print_summary(sum);
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
    if (what == "quality" || what == "cost" || what == "learned") {
      const int rc = what == "quality" ? quality() : what == "learned" ? learned() : cost();
      std::filesystem::remove_all(bench_cache_dir());
      return rc;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "usage: bench_optimal_steps quality|learned|cost [key=value ...]\n");
  return 2;
}
