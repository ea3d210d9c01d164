// The OptimalStepsScheduler node and the named schedule `optimal_steps`: the sampler-aware
// schedule from scheduler/optimal_steps (docs/optimal-steps.md).
#include <ATen/ATen.h>

#include "sigmaflow/diffusion/sigmas.h"
#include "sigmaflow/files.h"
#include "sigmaflow/node.h"
#include "sigmaflow/schedule_options.h"
#include "sigmaflow/scheduler/optimal_steps/optimal_steps.h"
#include "sigmaflow/scheduler/optimal_steps/step_forms.h"

namespace sf::oss {

namespace {

// "karras, exponential" -> {"karras", "exponential"}; blanks dropped.
std::vector<std::string> candidate_list(const std::string& text) {
  std::vector<std::string> out;
  std::string item;
  auto flush = [&] {
    const auto b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
    item.clear();
  };
  for (char ch : text) {
    if (ch == ',')
      flush();
    else
      item += ch;
  }
  flush();
  return out;
}

constexpr const char* kExtraCandidates[] = {"extra_sigmas_1", "extra_sigmas_2"};

// The optimiser's settings: inputs of OptimalStepsScheduler and of OptimalStepsOptions alike.
std::vector<InputSpec> settings_inputs() {
  return {Tooltip(Int("max_steps", 0, 0, 4097),
                  "largest step count one run serves; 0 = max(40, steps) (max(20, steps) above 256 dimensions)"),
          Tooltip(Int("grid_size", 0, 0, 4096),
                  "intervals of the candidate grid (log-uniform or cost-placed); 0 = automatic: 128 up to 256 "
                  "dimensions, else from the measured evaluation cost and time_budget"),
          Tooltip(Combo("grid", {"log", "cost"}), "cost: half the points at equal corrector-cost length"),
          Tooltip(Int("training_noises", 0, 0, 1 << 20),
                  "particles the DP is trained on; 0 = automatic: 512 (heun, dpm_2: 256) up to 256 dimensions, else "
                  "from the measured evaluation cost and time_budget"),
          Tooltip(Float("time_budget", 240.0, 1.0, 86400.0, 10.0),
                  "seconds the automatic settings aim at above 256 dimensions (reference, DP, held-out reference)"),
          Tooltip(Float("ratio_bound", 2.0, 0.0, 1000.0, 0.1),
                  "multistep samplers: a step is at most this many times the previous one in log sigma (0 = any)"),
          Tooltip(Int("exact_candidates", 4, 0, 4096),
                  "heun, dpm_2: predecessors per state evaluated exactly after proxy ranking (0 = all)"),
          Tooltip(Combo("objective", {"mean_square", "trimmed"}),
                  "how particles' errors are combined: the mean, or the mean without the worst 1 %"),
          Tooltip(Int("substeps", 4, 1, 64), "Heun sub-steps per grid interval of the reference ODE"),
          Seed("seed"),
          Bool("use_cache", true),
          Tooltip(Combo("selection", {"held_out", "off"}),
                  "held_out: return the best of the DP's schedule and the candidates on fresh noises; off: the DP's"),
          Tooltip(Int("held_out_noises", -1, -1, 1 << 20),
                  "noises the candidates are measured on (-1 = 256, doubled up to 2048 while the choice is within "
                  "noise; given: 16 to training_noises)"),
          Tooltip(String("candidates", "karras, exponential, align_your_steps, score_optimal"),
                  "stock schedules that compete (karras, exponential, align_your_steps, kl_optimal, score_optimal)")};
}

void read_settings(Context& ctx, const Inputs& in, OptimalStepsRequest& rq) {
  rq.max_steps = in.get_int("max_steps");
  rq.grid_size = in.get_int("grid_size");
  rq.grid = in.get_string("grid");
  rq.training_noises = in.get_int("training_noises");
  rq.time_budget_s = in.get_float("time_budget");
  rq.ratio_bound = in.get_float("ratio_bound");
  rq.exact_candidates = in.get_int("exact_candidates");
  rq.objective = in.get_string("objective");
  rq.substeps = in.get_int("substeps");
  rq.seed = in.get_uint("seed");
  rq.select = in.get_string("selection") == "held_out";
  rq.held_out_noises = in.get_int("held_out_noises");
  rq.stock_candidates = candidate_list(in.get_string("candidates"));
  if (in.get_bool("use_cache")) rq.cache_dir = ctx.cache_dir().empty() ? user_cache_dir() : ctx.cache_dir();
}

OptimalStepsRequest request_from_inputs(Context& ctx, const Inputs& in) {
  OptimalStepsRequest rq;
  rq.sampler_object = in.get<Sampler>("sampler").get();
  rq.sampler = rq.sampler_object->name();
  checked_step_form(*rq.sampler_object);  // before any other input: without a form nothing else matters
  rq.steps = in.get_int("steps");
  rq.denoise = in.get_float("denoise");
  read_settings(ctx, in, rq);
  for (const char* extra : kExtraCandidates)
    if (in.has(extra))
      rq.extra_candidates.push_back({extra, diffusion::Sigmas::from_tensor(in.get_tensor(extra)).values()});
  rq.interrupt = ctx.interrupt_flag();
  rq.group = ctx.collectives();  // under torchrun every rank runs this node: the noises are shared out
  rq.progress = [&ctx](int64_t done, int64_t total) { ctx.progress(done, total); };
  rq.info = [&ctx](const std::string& m) { ctx.info(m); };
  rq.warn = [&ctx](const std::string& m) { ctx.warn(m); };
  return rq;
}

}  // namespace

NodeDef optimal_steps_scheduler_node() {
  NodeContract c;
  c.class_type = "OptimalStepsScheduler";
  c.display_name = "Optimal Steps Scheduler";
  c.category = "sampling/custom_sampling/schedulers";
  c.description =
      "The schedule optimised for the sampler it runs with, from the model's own score: training noises are integrated "
      "to a converged reference on a grid of candidate sigmas, and a dynamic programme over (steps, grid point) keeps "
      "the sampler's own state along each path and picks the steps with the smallest error against the reference "
      "(OSS-style). One run serves every step count up to max_steps; results are cached per model fingerprint, "
      "sampler options and settings. Supports the deterministic samplers euler, heun, dpm_2, lms, dpmpp_2m, ipndm, "
      "ipndm_v (lower_order_final off). Held-out selection (default): the DP's schedule, the stock candidates and any "
      "connected SIGMAS are run with the sampler on noises the DP never trained on and the best is returned (sliced W2 "
      "against the reference first, then trajectory error; every figure with a paired bootstrap interval in the "
      "diagnostics). Denoise follows BasicScheduler.";
  c.inputs = {Port("model", "MODEL"),
              Tooltip(Port("sampler", "SAMPLER"), "the exact sampler and options the schedule is optimised for"),
              Int("steps", 20, 1, 4096), Float("denoise", 1.0, 0.0, 1.0)};
  for (auto& setting : settings_inputs()) c.inputs.push_back(std::move(setting));
  c.inputs.push_back(Optional(Tooltip(Port("extra_sigmas_1", "SIGMAS"),
                                      "an extra candidate: a full schedule of the total step count, ending in 0")));
  c.inputs.push_back(Optional(Tooltip(Port("extra_sigmas_2", "SIGMAS"), "a second extra candidate")));
  c.outputs = {OutputSpec("SIGMAS", "SIGMAS", {}, "the schedule: steps + 1 values ending in 0"),
               OutputSpec("SCHEDULE_DIAGNOSTICS", "diagnostics", {}, "training error per N, grid, NFE, seconds")};
  c.constraints.push_back(diffusion::Sigmas::denoise_constraint());
  return make_node(c, [](Context& ctx, const Inputs& in) {
    auto model = in.get<Model>("model");
    OptimalStepsRequest rq = request_from_inputs(ctx, in);
    OptimalStepsResult r = optimal_steps_schedule(*model, rq);  // errors about the model name "model"
    std::shared_ptr<ScheduleDiagnostics> diag = r.diagnostics;
    if (!diag) diag = std::make_shared<ScheduleDiagnostics>();
    return Outputs{diffusion::Sigmas(r.sigmas).to_value(), Value(std::shared_ptr<const Object>(diag))};
  });
}

namespace {

// The named schedule for `steps` steps with the settings in `settings` (the defaults: automatic
// settings, held-out selection, the user's cache), for the sampler the caller runs (euler when it
// does not say).
std::vector<double> named_optimal_steps(const Model& m, int64_t steps, const ScheduleHints& hints,
                                        OptimalStepsRequest settings) {
  OptimalStepsRequest rq = std::move(settings);
  if (hints.sampler) rq.sampler = hints.sampler->name();
  rq.sampler_object = hints.sampler;
  rq.steps = steps;
  rq.denoise = 1.0;  // the caller applies the denoise rule around the named schedule
  rq.progress = hints.progress;
  return optimal_steps_schedule(m, rq).sigmas.values();
}

OptimalStepsRequest named_defaults() {
  OptimalStepsRequest rq;
  // Automatic settings: the measured defaults up to 256 dimensions (two-evaluation samplers
  // train on 256 noises, which keeps them within 30x the cost of the score-optimal estimate),
  // chosen from the evaluation cost above (docs/optimal-steps.md).
  rq.training_noises = 0;
  rq.grid_size = 0;
  rq.cache_dir = user_cache_dir();
  return rq;
}

// OptimalStepsOptions' value: the named schedule with the node's settings (API 3.3).
class OptimalStepsOptions : public ScheduleOptions {
 public:
  OptimalStepsOptions(OptimalStepsRequest settings, std::string summary)
      : settings_(std::move(settings)), summary_(std::move(summary)) {}
  std::string schedule() const override { return "optimal_steps"; }
  std::string describe() const override { return "SCHEDULE_OPTIONS for optimal_steps (" + summary_ + ")"; }
  Result<std::vector<double>> compute(const Model& m, int64_t steps, const ScheduleHints& hints) const override {
    return capture<std::vector<double>>([&] { return named_optimal_steps(m, steps, hints, settings_); });
  }

 private:
  OptimalStepsRequest settings_;
  std::string summary_;
};

}  // namespace

NodeDef optimal_steps_options_node() {
  NodeContract c;
  c.class_type = "OptimalStepsOptions";
  c.display_name = "Optimal Steps Options";
  c.category = "sampling/custom_sampling/schedulers";
  c.description =
      "Settings for the named schedule optimal_steps where a node picks it by name: connect the output to the "
      "schedule_options input of KSampler, BasicScheduler or ScheduleSweep (their scheduler then optimal_steps). The "
      "inputs are OptimalStepsScheduler's settings, with its defaults; the sampler is the one the node runs.";
  c.inputs = settings_inputs();
  c.outputs = {OutputSpec("SCHEDULE_OPTIONS", "options", {}, "optimal_steps with these settings")};
  return make_node(c, [](Context& ctx, const Inputs& in) {
    OptimalStepsRequest rq = named_defaults();
    read_settings(ctx, in, rq);
    std::string summary;  // the settings that differ from the defaults
    for (const auto& spec : settings_inputs()) {
      if (!in.has(spec.name) || !in.get(spec.name).is_literal()) continue;
      const Literal& value = in.get_literal(spec.name);
      if (!spec.default_value || !(value == *spec.default_value))
        summary += (summary.empty() ? "" : ", ") + spec.name + " " + value.to_json();
    }
    if (summary.empty()) summary = "the defaults";
    return Outputs{Value(std::shared_ptr<const Object>(std::make_shared<OptimalStepsOptions>(rq, summary)))};
  });
}

std::vector<ScheduleDef> optimal_steps_schedules() {
  ScheduleDef def = make_schedule(
      "optimal_steps",
      "optimised for the sampler it runs with (OptimalStepsScheduler's defaults: automatic settings, held-out "
      "selection); euler where the caller does not say (BasicScheduler)",
      [](const Model& m, int64_t steps, const ScheduleHints& hints) {
        return named_optimal_steps(m, steps, hints, named_defaults());
      });
  def.sampler_aware = true;
  return {def};
}

}  // namespace sf::oss
