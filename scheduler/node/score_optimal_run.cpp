#include "score_optimal_run.h"

#include <ATen/ATen.h>

#include <cmath>
#include <stdexcept>

#include "../../nodes/common/device.h"
#include "../score_optimal/cost_cache.h"
#include "../score_optimal/predictor_cost.h"
#include "../score_optimal/schedule_fit.h"

namespace sf::so {

namespace {
std::string data_fingerprint(const at::Tensor& data) {
  if (!data.defined()) return "model";
  at::Tensor c = data.detach().to(at::kCPU, at::kDouble).contiguous();
  return "data-" + nodes::hex64(nodes::fnv1a(c.data_ptr(), c.nbytes()));
}
}  // namespace

ScoreOptimalResult score_optimal_schedule(const Model& model, const ScoreOptimalRequest& rq) {
  const double smin = model.sigma_min(), smax = model.sigma_max();
  if (!(smin > 0) || !(smin < smax))
    throw std::invalid_argument("the model's sigma_min (" + std::to_string(smin) + ") must be > 0 and < sigma_max (" +
                                std::to_string(smax) + ")");
  if (rq.steps < 1) throw std::invalid_argument("steps must be >= 1");
  if (rq.cost != "corrector" && rq.cost != "predictor")
    throw std::invalid_argument("cost must be corrector or predictor, got '" + rq.cost + "'");
  ScoreOptimalResult result;
  if (rq.denoise <= 0) return result;
  int64_t total = rq.steps;
  if (rq.denoise < 1.0) total = static_cast<int64_t>(static_cast<double>(rq.steps) / rq.denoise);
  if (rq.estimate.grid_size < total)
    throw std::invalid_argument("grid_size (" + std::to_string(rq.estimate.grid_size) +
                                ") must be at least the number of steps (" + std::to_string(total) + ")");

  Denoiser denoise = [&model](const at::Tensor& x, const at::Tensor& s) { return model.denoise(x, s); };
  auto diag = std::make_shared<ScheduleDiagnostics>();
  FitOptions fit;
  fit.floor = rq.floor;
  std::vector<double> schedule;

  if (rq.cost == "corrector") {
    std::string key = cache_key(model.fingerprint(), "corrector", smin, smax, rq.estimate, data_fingerprint(rq.data),
                                c10::toString(model.dtype()));
    std::optional<CostEstimate> est;
    if (!rq.cache_dir.empty()) {
      std::string why;
      est = load_cached(rq.cache_dir, key, rq.estimate.grid_size, &why);
      if (est && rq.info) rq.info("cost estimate loaded from the cache (" + cache_file(rq.cache_dir, key) + "): no model evaluations");
      if (!est && why != "missing" && rq.warn) rq.warn("ignoring cache entry " + cache_file(rq.cache_dir, key) + " (" + why + "); re-estimating");
    }
    bool fresh = !est;
    if (fresh) {
      est = estimate_corrector_cost(denoise, model.sample_shape(), smin, smax, model.device(), model.dtype(), rq.estimate,
                                    rq.data, rq.progress);
      if (!rq.cache_dir.empty()) {
        Status st = store_cached(rq.cache_dir, key, *est);
        if (!st.ok() && rq.warn) rq.warn("cannot write the score-optimal cache (" + st.message() + "); continuing without it");
      }
    }
    // N steps in ComfyUI's convention: N values from sigma_max to sigma_min, then the final step
    // into 0. The N - 1 steps between sigma_max and sigma_min carry equal cost.
    schedule = total == 1 ? std::vector<double>{smax} : fit_schedule(est->curve, total - 1, fit, &diag->cumulative);
    if (total == 1) diag->cumulative = cumulative_length(effective_costs(est->curve, fit));
    diag->grid = est->curve.grid;
    diag->interval_cost = est->curve.cost;
    diag->nfe = fresh ? est->nfe : 0;
    diag->seconds = fresh ? est->seconds : 0.0;
    diag->from_cache = !fresh;
  } else {
    PredictorOptions po;
    po.estimate = rq.estimate;
    po.step_map = rq.predictor;
    po.fit = fit;
    PredictorResult pr;
    if (total == 1) {
      pr.schedule = {smax};
    } else {
      pr = predictor_optimal_schedule(denoise, model.sample_shape(), smin, smax, model.device(), model.dtype(), total - 1,
                                      po, rq.data, rq.progress);
    }
    schedule = pr.schedule;
    diag->grid = pr.schedule;
    diag->interval_cost = pr.step_costs;
    diag->cumulative = cumulative_length(pr.step_costs);
    diag->nfe = pr.nfe;
    diag->seconds = pr.seconds;
    diag->folded_samples = pr.folded_samples;
    if (pr.folded_samples > 0 && rq.warn)
      rq.warn(std::to_string(pr.folded_samples) + " sample(s) had a folded " + rq.predictor +
              " step map (det J <= 0); they were left out of the predictor cost");
  }
  char method[128];
  std::snprintf(method, sizeof method, "score_optimal %s floor=%g", rq.cost.c_str(), rq.floor);
  diag->method = method;

  // Denoise rule: keep the last steps + 1 values of the total-step SIGMAS (schedule + final 0).
  if (static_cast<int64_t>(schedule.size()) > rq.steps) schedule.erase(schedule.begin(), schedule.end() - rq.steps);
  diag->schedule = schedule;
  if (rq.measure_steps) {
    at::Tensor x0 = rq.data.defined()
                        ? rq.data.to(model.device(), model.dtype())
                        : reverse_process_samples(denoise, model.sample_shape(), rq.estimate.particles, smin, smax,
                                                  rq.estimate.reverse_steps, rq.estimate.seed ^ 0x5eed5eedULL,
                                                  model.device(), model.dtype(), &diag->nfe);
    diag->step_cost = step_costs(denoise, schedule, x0, rq.estimate.particles, rq.estimate.seed + 17, &diag->nfe);
  }
  result.sigmas = schedule;
  result.sigmas.push_back(0.0);
  result.diagnostics = diag;
  return result;
}

}  // namespace sf::so
