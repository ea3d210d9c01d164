#include <ATen/ATen.h>

#include "nodes.h"
#include "sigmaflow/diffusion/sigmas.h"
#include "sigmaflow/ports.h"
#include "sigmaflow/schedule_options.h"

namespace sf::nodes {

namespace {

// Declared once: the contract's entries and the typed readers (sigmaflow/ports.h).
const In<Model> kModel{Port("model", "MODEL")};
const In<std::string> kScheduler{RegistryCombo("scheduler", "schedulers", comfy_scheduler_names(), "simple")};
const In<int64_t> kSteps{Int("steps", 20, 1, 10000)};
const In<double> kDenoise{Float("denoise", 1.0, 0.0, 1.0)};
const In<ScheduleOptions> kScheduleOptions{
    Optional(Tooltip(Port("schedule_options", "SCHEDULE_OPTIONS"),
                     "settings for the named schedule where it is chosen (OptimalStepsOptions for optimal_steps)"))};

}  // namespace

NodeDef basic_scheduler_node() {
  NodeContract c =
      Node("BasicScheduler", kSchedulerCategory,
           "A named schedule computed from the model: ComfyUI's list plus every schedule registered by plugins "
           "(score_optimal among them). denoise < 1 computes int(steps/denoise) steps and keeps the last steps + 1.",
           {kModel, kScheduler, kSteps, kDenoise, kScheduleOptions}, {{"SIGMAS", "SIGMAS"}});
  c.constraints.push_back(diffusion::Sigmas::denoise_constraint());
  c.display_name = "Basic Scheduler";
  return make_node(c, [](Context& ctx, const Inputs& in) {
    auto model = kModel(in);
    const std::string& name = kScheduler(in);
    const auto options = kScheduleOptions.get_if(in);
    auto sigmas = diffusion::Sigmas::with_denoise(kSteps(in), kDenoise(in), [&](int64_t total) {
      auto s =
          compute_named_schedule(ctx, name, *model, total, ScheduleHints{}, options.get(), kScheduleOptions.name());
      if (!s.ok())
        throw InputError(options ? kScheduleOptions.name() : kScheduler.name(), options ? options->describe() : name,
                         s.status().message());
      return *s;
    });
    return Outputs{sigmas.to_value()};
  });
}

}  // namespace sf::nodes
