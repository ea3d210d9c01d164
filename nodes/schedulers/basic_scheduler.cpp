#include <ATen/ATen.h>

#include "nodes.h"
#include "sigmaflow/diffusion/sigmas.h"
#include "sigmaflow/schedule_options.h"

namespace sf::nodes {

NodeDef basic_scheduler_node() {
  NodeContract c = Node(
      "BasicScheduler", kSchedulerCategory,
      "A named schedule computed from the model: ComfyUI's list plus every schedule registered by plugins "
      "(score_optimal among them). denoise < 1 computes int(steps/denoise) steps and keeps the last steps + 1.",
      {Port("model", "MODEL"), RegistryCombo("scheduler", "schedulers", comfy_scheduler_names(), "simple"),
       Int("steps", 20, 1, 10000), Float("denoise", 1.0, 0.0, 1.0),
       Optional(Tooltip(Port("schedule_options", "SCHEDULE_OPTIONS"),
                        "settings for the named schedule where it is chosen (OptimalStepsOptions for optimal_steps)"))},
      {{"SIGMAS", "SIGMAS"}});
  c.constraints.push_back(diffusion::Sigmas::denoise_constraint());
  c.display_name = "Basic Scheduler";
  return make_node(c, [](Context& ctx, const Inputs& in) {
    auto model = in.get<Model>("model");
    const std::string& name = in.get_string("scheduler");
    const std::shared_ptr<const ScheduleOptions> options =
        in.has("schedule_options") ? in.get<ScheduleOptions>("schedule_options") : nullptr;
    auto sigmas = diffusion::Sigmas::with_denoise(in.get_int("steps"), in.get_float("denoise"), [&](int64_t total) {
      auto s = compute_named_schedule(ctx, name, *model, total, ScheduleHints{}, options.get(), "schedule_options");
      if (!s.ok())
        throw InputError(options ? "schedule_options" : "scheduler", options ? options->describe() : name,
                         s.status().message());
      return *s;
    });
    return Outputs{sigmas.to_value()};
  });
}

}  // namespace sf::nodes
