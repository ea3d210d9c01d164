#include <ATen/ATen.h>

#include "nodes.h"
#include "sigmaflow/diffusion/sigmas.h"

namespace sf::nodes {

NodeDef basic_scheduler_node() {
  NodeContract c =
      Node("BasicScheduler", kSchedulerCategory,
           "A named schedule computed from the model: ComfyUI's list plus every schedule registered by plugins "
           "(score_optimal among them). denoise < 1 computes int(steps/denoise) steps and keeps the last steps + 1.",
           {Port("model", "MODEL"), RegistryCombo("scheduler", "schedulers", comfy_scheduler_names(), "simple"),
            Int("steps", 20, 1, 10000), Float("denoise", 1.0, 0.0, 1.0)},
           {{"SIGMAS", "SIGMAS"}});
  c.constraints.push_back(diffusion::Sigmas::denoise_constraint());
  c.display_name = "Basic Scheduler";
  return make_node(c, [](Context& ctx, const Inputs& in) {
    auto model = in.get<Model>("model");
    const std::string& name = in.get_string("scheduler");
    auto sigmas = diffusion::Sigmas::with_denoise(in.get_int("steps"), in.get_float("denoise"), [&](int64_t total) {
      auto s = ctx.compute_schedule(name, *model, total, ScheduleHints{});
      if (!s.ok()) throw InputError("scheduler", name, s.status().message());
      return *s;
    });
    return Outputs{sigmas.to_value()};
  });
}

}  // namespace sf::nodes
