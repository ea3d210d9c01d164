#include "sigmaflow/scheduler/optimal_steps/optimal_steps.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "sigmaflow/diffusion/fingerprint.h"
#include "sigmaflow/diffusion/memory.h"
#include "sigmaflow/diffusion/noise.h"
#include "sigmaflow/diffusion/npy.h"
#include "sigmaflow/diffusion/samplers.h"
#include "sigmaflow/diffusion/sigmas.h"
#include "sigmaflow/files.h"
#include "sigmaflow/json_depth.h"
#include "sigmaflow/scheduler/optimal_steps/dp.h"
#include "sigmaflow/scheduler/optimal_steps/plan_cache.h"
#include "sigmaflow/scheduler/optimal_steps/step_forms.h"
#include "sigmaflow/scheduler/score_optimal/schedule.h"
#include "sigmaflow/scheduler/stock.h"
#include "sigmaflow/status.h"

namespace sf::oss {

namespace {

std::string num(double v) { return number_text(v, 17); }

int64_t sample_dim(const Model& model) {
  int64_t d = 1;
  for (int64_t s : model.sample_shape()) d *= s;
  return d;
}

// The sampler a request serves and its checked step form: the connected sampler, or the table
// sampler the request names with its settings.
struct Served {
  std::shared_ptr<const Sampler> owned;
  const Sampler* sampler = nullptr;
  std::shared_ptr<const StepForm> form;
  // Sampler, plugin and the form's settings: what makes two samplers' plans differ.
  std::string key() const {
    return sampler->name() + "|plugin=" + sampler->provider() + "|form=" + form->settings_key();
  }
};

Served serve(const OptimalStepsRequest& rq) {
  Served s;
  s.sampler = rq.sampler_object;
  if (!s.sampler) {
    const diffusion::SamplerEntry* entry = diffusion::find_sampler(rq.sampler);
    if (!entry)
      throw InputError(
          "sampler", rq.sampler,
          "unknown sampler '" + rq.sampler + "'; samplers with a step form: " + samplers_with_step_forms());
    s.owned = std::make_shared<diffusion::TableSampler>(*entry, rq.settings);
    s.sampler = s.owned.get();
  }
  s.form = checked_step_form(*s.sampler);
  return s;
}

// Every setting that changes the plan is in the key.
std::string plan_key(const Model& model, const OptimalStepsRequest& rq, int64_t n_max) {
  std::string k = "oss-v3|model=" + model.fingerprint() + "|smin=" + num(model.sigma_min()) +
                  "|smax=" + num(model.sigma_max()) + "|dtype=" + c10::toString(model.dtype()) +
                  "|sampler=" + serve(rq).key() + "|N=" + std::to_string(n_max) + "|K=" + std::to_string(rq.grid_size) +
                  "|grid=" + rq.grid;
  if (rq.grid == "cost") k += "|log_share=" + num(rq.log_share) + "|estimate=default";
  k += "|M=" + std::to_string(rq.training_noises) + "|substeps=" + std::to_string(rq.substeps) +
       "|ratio=" + num(rq.ratio_bound) + "|exact=" + std::to_string(rq.exact_candidates) +
       "|rank=" + std::to_string(rq.rank_particles) + "|objective=" + rq.objective + "|trim=" + num(rq.trim_fraction) +
       "|seed=" + std::to_string(rq.seed);
  return k;
}

const std::vector<std::string>& stock_candidate_names() {
  static const std::vector<std::string> names{"karras", "exponential", "align_your_steps", "kl_optimal",
                                              "score_optimal"};
  return names;
}

// Selection settings and every extra candidate are checked before any model evaluation.
void check_selection(const OptimalStepsRequest& rq, int64_t total) {
  if (rq.held_out_noises != -1 && (rq.held_out_noises < 16 || rq.held_out_noises > rq.training_noises))
    throw InputError("held_out_noises", std::to_string(rq.held_out_noises),
                     "held_out_noises must be -1 (automatic) or between 16 and training_noises (" +
                         std::to_string(rq.training_noises) + ")");
  for (const auto& name : rq.stock_candidates) {
    const auto& known = stock_candidate_names();
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throw InputError("candidates", name, "unknown stock candidate '" + name + "' (" + list + ")");
    }
  }
  for (const auto& c : rq.extra_candidates) {
    diffusion::Sigmas s(c.sigmas);
    Status st = s.check_full_schedule(total);
    if (!st.ok())
      throw InputError(c.label, s.format(),
                       "an extra candidate must be a full " + std::to_string(total) + "-step schedule (" +
                           std::to_string(total + 1) + " strictly descending values ending in 0, as the sampler runs " +
                           "it before the denoise rule): " + st.message());
  }
}

void check_request(const Model& model, const OptimalStepsRequest& rq, int64_t n_max, int64_t total) {
  const double smin = model.sigma_min(), smax = model.sigma_max();
  if (!(smin > 0) || !(smin < smax))
    throw InputError("model", model.describe(), "the model's sigma_min must be > 0 and < sigma_max");
  if (rq.training_noises < 1)
    throw InputError("training_noises", std::to_string(rq.training_noises), "training_noises must be >= 1");
  if (rq.grid_size < 1 || rq.grid_size + 1 < total)
    throw InputError("grid_size", std::to_string(rq.grid_size),
                     "grid_size (" + std::to_string(rq.grid_size) + ") must be at least steps - 1 (" +
                         std::to_string(total - 1) + "): an N-step schedule takes N - 1 grid points after sigma_max");
  if (n_max < total)
    throw InputError(
        "max_steps", std::to_string(n_max),
        "max_steps (" + std::to_string(n_max) + ") must be at least the step count (" + std::to_string(total) + ")");
  if (rq.substeps < 1) throw InputError("substeps", std::to_string(rq.substeps), "substeps must be >= 1");
  if (rq.ratio_bound != 0 && !(rq.ratio_bound >= 1))
    throw InputError("ratio_bound", num(rq.ratio_bound), "ratio_bound must be 0 (none) or >= 1");
  if (rq.exact_candidates < 0)
    throw InputError("exact_candidates", std::to_string(rq.exact_candidates), "exact_candidates must be >= 0");
  if (rq.objective != "mean_square" && rq.objective != "trimmed")
    throw InputError("objective", rq.objective, "objective must be mean_square or trimmed");
  if (!(rq.trim_fraction >= 0 && rq.trim_fraction < 0.5))
    throw InputError("trim_fraction", num(rq.trim_fraction), "trim_fraction must be in [0, 0.5)");
  if (rq.grid != "log" && rq.grid != "cost") throw InputError("grid", rq.grid, "grid must be log or cost");
  if (!(rq.log_share >= 0 && rq.log_share <= 1))
    throw InputError("log_share", num(rq.log_share), "log_share must be in [0, 1]");
  if (rq.rank_particles < 1)
    throw InputError("rank_particles", std::to_string(rq.rank_particles), "rank_particles must be >= 1");
  if (rq.select) check_selection(rq, total);
  // The reference and two layers of DP states, all float64.
  uint64_t bytes = 0;
  std::vector<int64_t> shape{rq.grid_size + 1, rq.training_noises, sample_dim(model)};
  if (!diffusion::checked_bytes(shape, 8, bytes))
    throw InputError("training_noises", std::to_string(rq.training_noises), "the DP's arrays do not fit in memory");
  Status st = diffusion::check_allocation(bytes, "the optimal-steps DP (grid_size + 1 x training_noises x dims)", 8.0);
  if (!st.ok()) throw InputError("training_noises", std::to_string(rq.training_noises), st.message(), st.code());
}

// The DP batches every live state of a layer into one call: for an image network that is
// thousands of images whose activations alone took gigabytes (Fashion-MNIST UNet, 64 noises:
// 3.2 GB). Calls are cut into batches of at most kModelBatchElements input values; the results
// are the same (the model evaluates rows independently).
constexpr int64_t kModelBatchElements = int64_t{1} << 18;

Denoiser batched_denoiser(const Model& model) {
  return [&model](const at::Tensor& x, const NoiseLevels& s) {
    const int64_t rows = x.size(0), per_row = x.numel() / std::max<int64_t>(1, x.size(0));
    const int64_t chunk = std::max<int64_t>(1, kModelBatchElements / std::max<int64_t>(1, per_row));
    if (rows <= chunk) return model.denoise(x.to(model.dtype()), s).to(at::kDouble);
    std::vector<at::Tensor> parts;
    for (int64_t first = 0; first < rows; first += chunk) {
      const int64_t n = std::min(chunk, rows - first);
      NoiseLevels levels =
          s.uniform() ? NoiseLevels(s.value())
                      : NoiseLevels(std::vector<double>(s.per_row().begin() + first, s.per_row().begin() + first + n));
      parts.push_back(model.denoise(x.narrow(0, first, n).to(model.dtype()), levels).to(at::kDouble));
    }
    return at::cat(parts, 0);
  };
}

std::vector<double> plan_grid(const Model& model, const OptimalStepsRequest& rq, int64_t& nfe) {
  if (rq.grid == "log") return log_uniform_grid(model.sigma_min(), model.sigma_max(), rq.grid_size);
  so::ScoreOptimalRequest so;
  so.estimate.group = rq.group;
  so.cache_dir = rq.cache_dir;
  so.info = rq.info;
  so.warn = rq.warn;
  bool fresh = false;
  so::CostEstimate est = so::cached_corrector_estimate(model, so, fresh);
  if (fresh) nfe += est.nfe;
  return cost_grid(est.curve, rq.grid_size, rq.log_share);
}

OptimalStepsPlan compute_plan(const Model& model, const OptimalStepsRequest& rq, int64_t n_max) {
  const auto t0 = std::chrono::steady_clock::now();
  const Served served = serve(rq);
  const StepForm& form = *served.form;
  OptimalStepsPlan plan;
  plan.grid = plan_grid(model, rq, plan.nfe);
  at::Tensor noise = diffusion::seeded_normal(rq.seed, diffusion::batch_shape(rq.training_noises, model.sample_shape()),
                                              model.device(), at::kDouble);
  const int64_t ranking =
      form.two_evaluations() && rq.exact_candidates > 0 ? std::min(rq.rank_particles, rq.training_noises) : 0;
  const ParticleShare share = share_particles(rq.group, rq.training_noises, ranking);
  if (share.group)  // this rank's rows: the ranking particles' copies, then its own blocks
    noise = at::cat({noise.narrow(0, 0, share.shadow), noise.narrow(0, share.first, share.count)}, 0);
  Denoiser denoise = batched_denoiser(model);
  const int64_t total = rq.grid_size + n_max;
  auto ref_progress = [&](int64_t d, int64_t) {
    if (rq.progress) rq.progress(d, total);
  };
  Reference ref = integrate_reference(denoise, plan.grid, noise, rq.substeps, rq.interrupt, ref_progress);
  if (share.group) ref.nfe = ref.nfe / share.local() * share.total;  // counted once per particle, as alone
  DpOptions opt;
  opt.max_steps = n_max;
  opt.ratio_bound = rq.ratio_bound;
  opt.exact_candidates = rq.exact_candidates;
  opt.rank_particles = rq.rank_particles;
  opt.objective = rq.objective == "trimmed" ? Objective::kTrimmed : Objective::kMeanSquare;
  opt.trim_fraction = rq.trim_fraction;
  opt.share = share;
  opt.sampler_name = served.sampler->name();
  auto dp_progress = [&](int64_t d, int64_t) {
    if (rq.progress) rq.progress(rq.grid_size + d, total);
  };
  DpResult dp = optimise_steps(denoise, form, ref, opt, rq.interrupt, dp_progress);
  plan.schedules = std::move(dp.schedules);
  plan.training_error = std::move(dp.training_error);
  plan.nfe += ref.nfe + dp.nfe;
  plan.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return plan;
}

// `nfe` gains the model evaluations the candidate cost (score_optimal's estimate when not cached).
std::vector<double> stock_candidate(const Model& model, const OptimalStepsRequest& rq, const std::string& name,
                                    int64_t total, int64_t& nfe) {
  const double smin = model.sigma_min(), smax = model.sigma_max();
  if (name == "karras") return schedules::karras(total, smin, smax).values();
  if (name == "exponential") return schedules::exponential(total, smin, smax).values();
  if (name == "align_your_steps") return schedules::ays_like(total, smin, smax).values();
  if (name == "kl_optimal") return schedules::kl_optimal(total, smin, smax).values();
  // score_optimal, as the named schedule computes it.
  so::ScoreOptimalRequest so;
  so.steps = total;
  so.estimate.grid_size = so::grid_size_for(total);
  so.estimate.group = rq.group;
  so.cache_dir = rq.cache_dir;
  so.measure_steps = false;
  so.info = rq.info;
  so.warn = rq.warn;
  so::ScoreOptimalResult r = so::score_optimal_schedule(model, so);
  if (r.diagnostics) nfe += r.diagnostics->nfe;
  return r.sigmas.values();
}

std::string selection_key(const OptimalStepsRequest& rq, const std::string& plan,
                          const std::vector<CandidateSchedule>& c, const Sampler& sampler) {
  std::string k = plan + "|select-v3|sampler_object=" + sampler.name() +
                  "|held_out=" + std::to_string(rq.held_out_noises) +
                  "|max_held_out=" + std::to_string(rq.max_held_out);
  for (const auto& cand : c) {
    k += "|" + cand.label + "=";
    for (double v : cand.sigmas) k += num(v) + ",";
  }
  return k;
}

std::string held_out_reference_file(const std::string& cache_dir, const std::string& plan_cache_key) {
  if (cache_dir.empty()) return {};
  const std::string key = plan_cache_key + "|held-out-reference-v2";
  return cache_dir + "/optimal_steps/" + diffusion::hex64(diffusion::fnv1a(key)) + "-held-out.npy";
}

// The cached held-out reference rows, or an undefined tensor (none, or not a reference of this model).
at::Tensor load_held_out_reference(const Model& model, const std::string& file,
                                   const std::function<void(const std::string&)>& warn) {
  if (file.empty()) return {};
  auto loaded = diffusion::load_npy(file);
  if (!loaded.ok()) return {};
  const std::vector<int64_t> want = diffusion::batch_shape(1, model.sample_shape());
  const bool fits = loaded->dim() == static_cast<int64_t>(want.size()) && loaded->size(0) >= 1 &&
                    loaded->sizes().slice(1).vec() == std::vector<int64_t>(want.begin() + 1, want.end()) &&
                    loaded->scalar_type() == at::kDouble && loaded->isfinite().all().item<bool>();
  if (!fits) {
    if (warn) warn("ignoring cache entry " + file + " (not the expected reference); recomputing");
    return {};
  }
  return loaded->to(model.device());
}

constexpr int64_t kConvergedIntervals = 64;

Selection run_selection(const Model& model, const OptimalStepsRequest& rq, const OptimalStepsPlan& plan,
                        const std::string& plan_cache_key, std::vector<double> dp_schedule, int64_t total,
                        bool& from_cache) {
  std::vector<CandidateSchedule> candidates{{"optimal_steps", std::move(dp_schedule)}};
  int64_t candidate_nfe = 0;
  for (const auto& name : rq.stock_candidates)
    // score_optimal is a method of ours like the DP: held to the baselines' distribution, not one of them.
    candidates.push_back({name, stock_candidate(model, rq, name, total, candidate_nfe), name != "score_optimal"});
  for (const auto& extra : rq.extra_candidates) {
    candidates.push_back(extra);
    candidates.back().baseline = true;  // what the user would run otherwise
  }
  const Served served = serve(rq);
  const Sampler* sampler = served.sampler;
  const std::string key = selection_key(rq, plan_cache_key + "|N=" + std::to_string(total), candidates, *sampler);
  const std::string file = rq.cache_dir.empty() ? std::string() : plan_file(rq.cache_dir, key);
  if (!file.empty()) {
    std::string why;
    if (auto s = load_selection(file, key, candidates, why)) {
      from_cache = true;
      return *s;
    }
    if (why != "missing" && rq.warn) rq.warn("ignoring cache entry " + file + " (" + why + "); recomputing");
  }
  SelectionRequest srq;
  // The held-out reference must be converged whatever grid the DP was given: each interval of a
  // coarse grid is split log-uniformly so that the reference has at least 64 intervals.
  const auto K = static_cast<int64_t>(plan.grid.size()) - 1;
  const int64_t split = (kConvergedIntervals + K - 1) / K;
  for (int64_t k = 0; k < K; ++k)
    for (int64_t q = 0; q < split; ++q) {
      const double a = std::log(plan.grid[static_cast<size_t>(k)]), b = std::log(plan.grid[static_cast<size_t>(k + 1)]);
      srq.grid.push_back(q == 0 ? plan.grid[static_cast<size_t>(k)]
                                : std::exp(a + (b - a) * static_cast<double>(q) / static_cast<double>(split)));
    }
  srq.grid.push_back(plan.grid.back());
  srq.held_out = rq.held_out_noises;
  srq.max_held_out = rq.max_held_out;  // also past the training noises: ties between schedules are common
  srq.seed = rq.seed;
  srq.substeps = rq.substeps;
  srq.interrupt = rq.interrupt;
  srq.info = rq.info;
  // The held-out reference outputs serve every N of this plan: cached beside it as .npy, as many
  // rows as were ever measured (the noises are one stream: any prefix is valid).
  const std::string ref_file = held_out_reference_file(rq.cache_dir, plan_cache_key);
  srq.reference = load_held_out_reference(model, ref_file, rq.warn);
  const int64_t cached_rows = srq.reference.defined() ? srq.reference.size(0) : 0;
  Selection s = select_on_held_out(model, *sampler, candidates, srq);
  s.nfe += candidate_nfe;
  if (!ref_file.empty() && s.reference.defined() && s.reference.size(0) > cached_rows) {
    Status st = diffusion::save_npy(ref_file, s.reference.cpu());
    if (!st.ok() && rq.warn) rq.warn("cannot write the optimal-steps cache (" + st.message() + "); continuing");
  }
  s.reference = at::Tensor();  // not kept in the diagnostics
  if (!file.empty()) {
    Status st = store_selection(file, key, s);
    if (!st.ok() && rq.warn) rq.warn("cannot write the optimal-steps cache (" + st.message() + "); continuing");
  }
  return s;
}

// Whether the score_optimal candidate's estimate for this request is in the cache already.
bool score_optimal_cached(const Model& model, const OptimalStepsRequest& rq, int64_t total) {
  if (rq.cache_dir.empty()) return false;
  so::ScoreOptimalRequest so;
  so.estimate.grid_size = so::grid_size_for(total);
  so.cache_dir = rq.cache_dir;
  return so::corrector_estimate_cached(model, so);
}

// Seconds per model evaluation of one sample: the best of three timed calls on a batch of 32 at
// the middle of the range (after one untimed call).
double seconds_per_evaluation(const Model& model) {
  const int64_t batch = 32;
  at::Tensor x =
      diffusion::seeded_normal(7, diffusion::batch_shape(batch, model.sample_shape()), model.device(), model.dtype()) *
      std::sqrt(model.sigma_min() * model.sigma_max());
  const double sigma = std::sqrt(model.sigma_min() * model.sigma_max());
  model.denoise(x, sigma);
  double best = 1e300;
  for (int i = 0; i < 3; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    at::Tensor d = model.denoise(x, sigma);
    (void)d.sum().item<double>();  // wait for the device
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best / batch;
}

// Evaluations of one plan with these settings: reference (K x substeps x 2 per noise), the DP
// (about K live states per layer and N_max layers; two-evaluation samplers about 5x that), and
// the held-out reference (2 M noises at most).
double planned_evaluations(int64_t M, int64_t K, int64_t n_max, int64_t substeps, bool two_evaluations) {
  const double per_noise = 2.0 * static_cast<double>(substeps * K) +
                           (two_evaluations ? 5.0 : 1.0) * static_cast<double>(K) * static_cast<double>(n_max);
  return static_cast<double>(M) * per_noise + 2.0 * static_cast<double>(M) * 2.0 * static_cast<double>(substeps * K);
}

}  // namespace

OptimalStepsDiagnostics::~OptimalStepsDiagnostics() = default;

const OptimalStepsDiagnostics* as_optimal_steps(const ScheduleDiagnostics& diagnostics) {
  return dynamic_cast<const OptimalStepsDiagnostics*>(&diagnostics);
}

OptimalStepsRequest resolve_automatic_settings(const Model& model, OptimalStepsRequest rq, std::string& note) {
  note.clear();
  if (rq.grid_size != 0 && rq.training_noises != 0) return rq;
  const bool two = serve(rq).form->two_evaluations();
  const int64_t dims = sample_dim(model);
  const int64_t total = std::max<int64_t>(1, rq.steps);
  if (dims <= 256) {
    if (rq.grid_size == 0) rq.grid_size = 128;
    if (rq.training_noises == 0) rq.training_noises = two ? 256 : 512;
    return rq;
  }
  if (rq.max_steps == 0) rq.max_steps = std::max<int64_t>(20, total);
  if (!(rq.time_budget_s > 0))
    throw InputError("time_budget", num(rq.time_budget_s), "time_budget must be > 0 seconds");
  // The choice is cached: a second run must not re-measure and pick other settings.
  const std::string key = "oss-auto-v1|model=" + model.fingerprint() + "|sampler=" + rq.sampler +
                          "|N=" + std::to_string(rq.max_steps) + "|K=" + std::to_string(rq.grid_size) +
                          "|M=" + std::to_string(rq.training_noises) + "|budget=" + num(rq.time_budget_s) +
                          "|substeps=" + std::to_string(rq.substeps);
  const std::string file = rq.cache_dir.empty() ? std::string() : plan_file(rq.cache_dir, key);
  int64_t K = rq.grid_size, M = rq.training_noises;
  double per_eval = 0;
  bool cached = false;
  std::string why;
  if (auto stored = file.empty() ? std::nullopt : load_auto_settings(file, key, why)) {
    K = stored->grid_size;
    M = stored->training_noises;
    per_eval = stored->seconds_per_evaluation;
    cached = true;
  }
  if (!cached) {
    per_eval = seconds_per_evaluation(model);
    const double affordable = rq.time_budget_s / std::max(per_eval, 1e-12);
    const int64_t k_floor = std::max<int64_t>(rq.max_steps - 1, 1);
    for (int64_t k : {int64_t{128}, int64_t{96}, int64_t{64}, int64_t{48}, int64_t{32}}) {
      const int64_t kk = rq.grid_size ? rq.grid_size : std::max(k, k_floor);
      int64_t m = rq.training_noises;
      if (m == 0) {
        m = 512;
        while (m > 16 && planned_evaluations(m, kk, rq.max_steps, rq.substeps, two) > affordable) m /= 2;
      }
      K = kk;
      M = m;
      if (m >= 64 || rq.grid_size || rq.training_noises) break;  // enough noises at this grid
    }
    if (!file.empty()) {
      Status st = store_auto_settings(file, key, {K, M, per_eval});
      if (!st.ok() && rq.warn) rq.warn("cannot write the optimal-steps cache (" + st.message() + "); continuing");
    }
  }
  rq.grid_size = K;
  rq.training_noises = M;
  // Held-out noises cost as much as training noises here: at most 2 M, and the 512 that sufficed
  // before ties grew the set (an image model's budget has no room for 2048).
  rq.max_held_out = std::min<int64_t>(rq.max_held_out, std::max<int64_t>(64, std::min<int64_t>(512, 2 * M)));
  // The score_optimal candidate needs its own estimate (the default one: 393,728 evaluations,
  // docs/score-optimal.md): on an image network that alone can pass the budget. It competes only
  // when it costs at most a quarter of the budget (or is already cached, which is free).
  std::string dropped;
  auto so_it = std::find(rq.stock_candidates.begin(), rq.stock_candidates.end(), "score_optimal");
  const double so_seconds = 393728.0 * per_eval;
  if (rq.select && so_it != rq.stock_candidates.end() && so_seconds > 0.25 * rq.time_budget_s &&
      !score_optimal_cached(model, rq, total)) {
    rq.stock_candidates.erase(so_it);
    dropped = "; score_optimal left out of the candidates (its estimate would take about " +
              number_text(so_seconds, 3) + " s)";
  }
  const double estimate = per_eval * planned_evaluations(M, K, rq.max_steps, rq.substeps, two);
  note = "automatic settings for " + std::to_string(dims) + " dimensions: " + number_text(per_eval * 1e3, 3) +
         " ms per evaluation" + (cached ? " (measured earlier)" : "") + ", so K = " + std::to_string(K) +
         ", M = " + std::to_string(M) + ", N_max = " + std::to_string(rq.max_steps) + ", held-out at most " +
         std::to_string(rq.max_held_out) + ": about " + number_text(estimate, 3) + " s for a budget of " +
         num(rq.time_budget_s) + " s" + dropped;
  return rq;
}

OptimalStepsPlan optimal_steps_plan(const Model& model, const OptimalStepsRequest& request) {
  std::string note;
  const OptimalStepsRequest rq = resolve_automatic_settings(model, request, note);
  if (!note.empty() && rq.info) rq.info(note);
  const int64_t total = std::max<int64_t>(1, rq.steps);
  const int64_t n_max = rq.max_steps > 0 ? rq.max_steps : std::max<int64_t>(40, total);
  serve(rq);  // refuse a sampler without a (correct) step form before any other check
  check_request(model, rq, n_max, total);
  const std::string key = plan_key(model, rq, n_max);
  std::string file = rq.cache_dir.empty() ? std::string() : plan_file(rq.cache_dir, key);
  if (!file.empty()) {
    std::string why;
    if (auto p = load_plan(file, key, n_max, rq.grid_size, why)) {
      if (rq.info) rq.info("optimal-steps plan loaded from the cache (" + file + "): no model evaluations");
      return *p;
    }
    if (why != "missing" && rq.warn) rq.warn("ignoring cache entry " + file + " (" + why + "); recomputing");
  }
  OptimalStepsPlan plan = compute_plan(model, rq, n_max);
  if (!file.empty()) {
    Status st = store_plan(file, key, plan);
    if (!st.ok() && rq.warn) rq.warn("cannot write the optimal-steps cache (" + st.message() + "); continuing");
  }
  return plan;
}

OptimalStepsResult optimal_steps_schedule(const Model& model, const OptimalStepsRequest& rq) {
  OptimalStepsResult result;
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t total = diffusion::Sigmas::total_steps_for_denoise(rq.steps, rq.denoise);
  if (total == 0) return result;
  OptimalStepsRequest full = rq;
  full.steps = total;
  std::string note;
  full = resolve_automatic_settings(model, full, note);
  if (!note.empty() && rq.info) rq.info(note);
  OptimalStepsPlan plan = optimal_steps_plan(model, full);
  std::vector<double> schedule = plan.schedules[static_cast<size_t>(total - 1)];
  if (schedule.empty())
    throw InputError("ratio_bound", num(rq.ratio_bound),
                     "no " + std::to_string(total) + "-step schedule on this grid satisfies ratio_bound " +
                         num(rq.ratio_bound) + "; raise it or use a log grid");
  auto diag = std::make_shared<OptimalStepsDiagnostics>();
  int64_t spent = plan.from_cache ? 0 : plan.nfe;
  bool all_cached = plan.from_cache;
  if (full.select) {
    const int64_t n_max = full.max_steps > 0 ? full.max_steps : std::max<int64_t>(40, total);
    bool cached = false;
    diag->selection = run_selection(model, full, plan, plan_key(model, full, n_max), schedule, total, cached);
    diag->selected = true;
    schedule = diag->selection.scores[diag->selection.chosen].sigmas;
    if (rq.info)
      rq.info("optimal_steps held-out selection" + std::string(cached ? " (cached)" : "") + ": " +
              diag->selection.summary);
    if (!cached) spent += diag->selection.nfe;
    all_cached = all_cached && cached;
  }
  // The denoise rule: keep the last steps + 1 values of the total-step SIGMAS.
  if (static_cast<int64_t>(schedule.size()) > rq.steps + 1)
    schedule.erase(schedule.begin(), schedule.end() - (rq.steps + 1));
  diag->method = "optimal_steps " + rq.sampler + " grid=" + rq.grid + " K=" + std::to_string(full.grid_size) +
                 " M=" + std::to_string(full.training_noises);
  diag->settings_note = note;
  if (diag->selected)
    diag->method += " held_out=" + std::to_string(diag->selection.held_out) +
                    " chosen=" + diag->selection.scores[diag->selection.chosen].label;
  diag->grid = plan.grid;
  diag->schedule.assign(schedule.begin(), schedule.end() - 1);
  diag->training_error = plan.training_error;
  diag->sampler = rq.sampler;
  diag->nfe = spent;
  diag->seconds = all_cached ? 0.0 : std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  diag->from_cache = all_cached;
  result.sigmas = diffusion::Sigmas(std::move(schedule));
  result.diagnostics = diag;
  return result;
}

}  // namespace sf::oss
