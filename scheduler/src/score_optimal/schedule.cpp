#include "sigmaflow/scheduler/score_optimal/schedule.h"

#include <ATen/ATen.h>

#include <cmath>
#include <stdexcept>

#include "sigmaflow/diffusion/fingerprint.h"
#include "sigmaflow/diffusion/sigmas.h"
#include "sigmaflow/scheduler/score_optimal/cost_cache.h"
#include "sigmaflow/scheduler/score_optimal/predictor_cost.h"
#include "sigmaflow/scheduler/score_optimal/schedule_fit.h"
#include "sigmaflow/status.h"

namespace sf::so {

namespace {

std::string data_fingerprint(const at::Tensor& data) {
  if (!data.defined()) return "model";
  at::Tensor c = data.detach().to(at::kCPU, at::kDouble).contiguous();
  return "data-" + diffusion::hex64(diffusion::fnv1a(c.data_ptr(), c.nbytes()));
}

}  // namespace

bool corrector_estimate_cached(const Model& model, const ScoreOptimalRequest& rq) {
  if (rq.cache_dir.empty()) return false;
  const std::string key = cache_key(model.fingerprint(), "corrector", model.sigma_min(), model.sigma_max(), rq.estimate,
                                    data_fingerprint(rq.data), c10::toString(model.dtype()));
  std::string why;
  return load_cached(rq.cache_dir, key, rq.estimate.grid_size, &why).has_value();
}

CostEstimate cached_corrector_estimate(const Model& model, const ScoreOptimalRequest& rq, bool& fresh) {
  const double smin = model.sigma_min(), smax = model.sigma_max();
  std::string key = cache_key(model.fingerprint(), "corrector", smin, smax, rq.estimate, data_fingerprint(rq.data),
                              c10::toString(model.dtype()));
  std::optional<CostEstimate> est;
  if (!rq.cache_dir.empty()) {
    std::string why;
    est = load_cached(rq.cache_dir, key, rq.estimate.grid_size, &why);
    if (est && rq.info)
      rq.info("cost estimate loaded from the cache (" + cache_file(rq.cache_dir, key) + "): no model evaluations");
    if (!est && why != "missing" && rq.warn)
      rq.warn("ignoring cache entry " + cache_file(rq.cache_dir, key) + " (" + why + "); re-estimating");
  }
  if (const Collectives* g = rq.estimate.group; g && g->world_size() > 1) {
    // The ranks estimate together only if none has the entry (the others then skip it too).
    const int64_t hits = g->all_reduce_sum(at::full({1}, int64_t{est ? 1 : 0}, at::kLong)).item<int64_t>();
    if (hits < g->world_size()) est.reset();
  }
  fresh = !est;
  if (!fresh) return *est;
  CostEstimate e = estimate_corrector_cost(model, rq.estimate, rq.data, rq.progress);
  Status valid = check_estimate(e, rq.estimate.grid_size);
  if (!valid.ok()) throw InputError("model", "", "the cost estimate is unusable: " + valid.message());
  if (!rq.cache_dir.empty()) {
    Status st = store_cached(rq.cache_dir, key, e);
    if (!st.ok() && rq.warn)
      rq.warn("cannot write the score-optimal cache (" + st.message() + "); continuing without it");
  }
  return e;
}

namespace {

// N steps in ComfyUI's convention: N values from sigma_max to sigma_min, then the final step into
// 0; the N - 1 steps between sigma_max and sigma_min carry equal cost.
std::vector<double> corrector_schedule(const Model& model, const ScoreOptimalRequest& rq, int64_t total,
                                       ScheduleDiagnostics& diag, at::Tensor& samples) {
  bool fresh = false;
  CostEstimate est = cached_corrector_estimate(model, rq, fresh);
  samples = est.samples;
  FitOptions fit;
  fit.floor = rq.floor;
  std::vector<double> schedule;
  if (total == 1) {
    schedule = {model.sigma_max()};
    diag.cumulative = cumulative_length(effective_costs(est.curve, fit));
  } else {
    schedule = fit_schedule(est.curve, total - 1, fit, &diag.cumulative);
  }
  diag.grid = est.curve.grid;
  diag.interval_cost = est.curve.cost;
  diag.nfe = fresh ? est.nfe : 0;
  diag.seconds = fresh ? est.seconds : 0.0;
  diag.from_cache = !fresh;
  return schedule;
}

std::vector<double> predictor_schedule(const Model& model, const ScoreOptimalRequest& rq, int64_t total,
                                       ScheduleDiagnostics& diag) {
  PredictorOptions po;
  po.estimate = rq.estimate;
  po.step_map = rq.predictor;
  po.fit.floor = rq.floor;
  PredictorResult pr;
  if (total == 1) {
    pr.schedule = {model.sigma_max()};
  } else {
    pr = predictor_optimal_schedule(model, total - 1, po, rq.data, rq.progress);
  }
  diag.grid = pr.schedule;
  diag.interval_cost = pr.step_costs;
  diag.cumulative = cumulative_length(pr.step_costs);
  diag.nfe = pr.nfe;
  diag.seconds = pr.seconds;
  diag.folded_samples = pr.folded_samples;
  if (pr.folded_samples > 0 && rq.warn)
    rq.warn(std::to_string(pr.folded_samples) + " sample(s) had a folded " + rq.predictor +
            " step map (det J <= 0); they were left out of the predictor cost");
  return pr.schedule;
}

void check_request(const Model& model, const ScoreOptimalRequest& rq, int64_t total) {
  const double smin = model.sigma_min(), smax = model.sigma_max();
  if (!(smin > 0) || !(smin < smax))
    throw InputError("model", model.describe(),
                     "the model's sigma_min (" + std::to_string(smin) + ") must be > 0 and < sigma_max (" +
                         std::to_string(smax) + ")");
  if (rq.steps < 1) throw InputError("steps", std::to_string(rq.steps), "steps must be >= 1");
  if (rq.cost != "corrector" && rq.cost != "predictor")
    throw InputError("cost", rq.cost, "cost must be corrector or predictor, got '" + rq.cost + "'");
  if (rq.estimate.grid_size < total)
    throw InputError("grid_size", std::to_string(rq.estimate.grid_size),
                     "grid_size (" + std::to_string(rq.estimate.grid_size) +
                         ") must be at least the number of steps (" + std::to_string(total) + ")");
}

}  // namespace

int64_t grid_size_for(int64_t steps) {
  int64_t g = 256;
  while (g < 4 * steps) g *= 2;
  return g;
}

ScoreOptimalResult score_optimal_schedule(const Model& model, const ScoreOptimalRequest& rq) {
  ScoreOptimalResult result;
  const int64_t total = diffusion::Sigmas::total_steps_for_denoise(rq.steps, rq.denoise);
  if (total == 0) return result;
  check_request(model, rq, total);
  const Denoiser denoise = model_denoiser(model);
  auto diag = std::make_shared<ScheduleDiagnostics>();
  at::Tensor samples;  // a fresh corrector estimate's reverse-process x0, reused for the step costs
  std::vector<double> schedule = rq.cost == "corrector" ? corrector_schedule(model, rq, total, *diag, samples)
                                                        : predictor_schedule(model, rq, total, *diag);
  char method[128];
  std::snprintf(method, sizeof method, "score_optimal %s floor=%g", rq.cost.c_str(), rq.floor);
  diag->method = method;
  // The denoise rule: keep the last steps + 1 values of the total-step SIGMAS (schedule + 0).
  if (static_cast<int64_t>(schedule.size()) > rq.steps) schedule.erase(schedule.begin(), schedule.end() - rq.steps);
  diag->schedule = schedule;
  if (rq.measure_steps) {
    at::Tensor x0 = samples;
    if (rq.data.defined()) {
      x0 = rq.data.to(model.device(), model.dtype());
    } else if (!x0.defined()) {
      x0 = reverse_process_samples(model, rq.estimate.particles, rq.estimate.reverse_steps,
                                   rq.estimate.seed ^ 0x5eed5eedULL, &diag->nfe, rq.estimate.group);
    }
    diag->step_cost =
        step_costs(denoise, schedule, x0, rq.estimate.particles, rq.estimate.seed + 17, &diag->nfe, rq.estimate.group);
  }
  schedule.push_back(0.0);
  result.sigmas = diffusion::Sigmas(std::move(schedule));
  result.diagnostics = diag;
  return result;
}

}  // namespace sf::so
