// The ScoreOptimalScheduler node and the named schedules it registers.
#include <ATen/ATen.h>

#include "sigmaflow/diffusion/sigmas.h"
#include "sigmaflow/files.h"
#include "sigmaflow/node.h"
#include "sigmaflow/scheduler/score_optimal/schedule.h"

namespace sf::so {

namespace {

ScoreOptimalRequest request_from_inputs(Context& ctx, const Inputs& in, const Model& model) {
  ScoreOptimalRequest rq;
  rq.steps = in.get_int("steps");
  rq.denoise = in.get_float("denoise");
  rq.cost = in.get_string("cost");
  rq.floor = in.get_float("floor");
  rq.predictor = in.get_string("sampler");
  rq.estimate.grid_size = in.get_int("grid_size");
  rq.estimate.particles = in.get_int("particles");
  rq.estimate.seed = in.get_uint("seed");
  rq.estimate.common_random_numbers = in.get_bool("common_random_numbers");
  // Under torchrun the corrector estimate is shared out across the ranks (every rank runs this
  // node); the predictor cost is not sharded.
  if (rq.cost == "corrector") rq.estimate.group = ctx.collectives();
  if (in.get_bool("use_cache")) rq.cache_dir = ctx.cache_dir().empty() ? user_cache_dir() : ctx.cache_dir();
  if (in.has("data")) {
    at::Tensor data = in.get<Latent>("data")->samples();
    int64_t d = 1;
    for (auto v : model.sample_shape()) d *= v;
    if (data.dim() < 2 || data.numel() / data.size(0) != d)
      throw InputError("data", c10::str(data.sizes()),
                       "data samples of shape " + c10::str(data.sizes()) + " do not match the model's sample shape " +
                           c10::str(model.sample_shape()));
    rq.data = data;
  }
  rq.progress = [&ctx](int64_t done, int64_t total) { ctx.progress(done, total); };
  rq.info = [&ctx](const std::string& m) { ctx.info(m); };
  rq.warn = [&ctx](const std::string& m) { ctx.warn(m); };
  return rq;
}

}  // namespace

NodeDef score_optimal_scheduler_node() {
  NodeContract c;
  c.class_type = "ScoreOptimalScheduler";
  c.display_name = "Score-Optimal Scheduler";
  c.category = "sampling/custom_sampling/schedulers";
  c.description =
      "The schedule that gives every step the same transport cost (Williams, Campbell, Doucet, Syed, NeurIPS 2024), "
      "estimated from the model's own score: cost 'corrector' is L_c = s'^2 E||s(x,s') - s(x,s)||^2 on a fine "
      "log-sigma grid (Algorithm 1); 'predictor' equalises the predictor cost of the chosen step map iteratively. "
      "floor adds the scale-free prior floor * d (s/s' - s'/s)^2 so no region of the path is free (0 = the "
      "paper's method). Estimates are cached per model fingerprint and settings. Denoise follows BasicScheduler.";
  c.inputs = {Port("model", "MODEL"),
              Int("steps", 20, 1, 10000),
              Float("denoise", 1.0, 0.0, 1.0),
              Combo("cost", {"corrector", "predictor"}),
              Tooltip(Float("floor", kDefaultFloor, 0.0, 100.0, 0.01), "weight of the point-mass prior; 0 = paper"),
              Tooltip(Combo("sampler", {"euler", "heun"}), "step map for the predictor cost"),
              Int("grid_size", 256, 8, 8192),
              Int("particles", 512, 16, 1 << 20),
              Seed("seed"),
              Bool("common_random_numbers", false),
              Bool("use_cache", true),
              Optional(Tooltip(Port("data", "LATENT"), "data samples: x ~ p_sigma by forward noising"))};
  c.outputs = {{"SIGMAS", "SIGMAS"}, {"SCHEDULE_DIAGNOSTICS", "diagnostics"}};
  c.constraints = {LessEqual("steps", "grid_size", "the fine grid must have at least as many intervals as steps"),
                   diffusion::Sigmas::denoise_constraint()};
  return make_node(c, [](Context& ctx, const Inputs& in) {
    auto model = in.get<Model>("model");
    // The library's errors about the model (NaN outputs, an unusable estimate) name "model".
    ScoreOptimalResult r = score_optimal_schedule(*model, request_from_inputs(ctx, in, *model));
    if (!r.diagnostics) r.diagnostics = std::make_shared<ScheduleDiagnostics>();
    return Outputs{diffusion::Sigmas(r.sigmas).to_value(), Value(std::shared_ptr<const Object>(r.diagnostics))};
  });
}

std::vector<ScheduleDef> score_optimal_schedules() {
  auto make = [](const char* name, const char* desc, std::string cost, double floor) {
    return make_schedule(name, desc, [cost, floor](const Model& m, int64_t steps, const ScheduleHints& hints) {
      ScoreOptimalRequest rq;
      rq.steps = steps;
      rq.cost = cost;
      rq.floor = floor;
      rq.estimate.grid_size = grid_size_for(steps);
      rq.cache_dir = user_cache_dir();
      rq.measure_steps = false;
      rq.progress = hints.progress;
      return score_optimal_schedule(m, rq).sigmas.values();
    });
  };
  return {
      make("score_optimal", "score-optimal, corrector cost with the default tail prior", "corrector", kDefaultFloor),
      make("score_optimal_paper", "score-optimal, corrector cost exactly as the paper (floor 0)", "corrector", 0.0),
      make("score_optimal_predictor", "score-optimal, predictor cost (Euler step map), equalised at N", "predictor",
           0.0)};
}

}  // namespace sf::so
