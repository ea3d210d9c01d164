#include <ATen/ATen.h>

#include "../common/sigmas.h"
#include "nodes.h"
#include "schedule_math.h"

namespace sf::nodes {

NodeDef basic_scheduler_node() {
  NodeContract c;
  c.class_type = "BasicScheduler";
  c.display_name = "Basic Scheduler";
  c.category = kSchedulerCategory;
  c.description =
      "A named schedule computed from the model: ComfyUI's list plus every schedule registered by plugins "
      "(score_optimal among them). denoise < 1 computes int(steps/denoise) steps and keeps the last steps + 1.";
  InputSpec sched = Combo("scheduler", comfy_scheduler_names(), std::string("simple"));
  sched.choices_from = "schedulers";
  c.inputs = {Port("model", "MODEL"), sched, Int("steps", 20, 1, 10000), Float("denoise", 1.0, 0.0, 1.0)};
  c.outputs = {{"SIGMAS", "SIGMAS"}};
  return make_node(c, [](Context& ctx, const Inputs& in) {
    auto model = in.get<Model>("model");
    const std::string& name = in.get_string("scheduler");
    int64_t steps = in.get_int("steps");
    if (steps < 1) throw InputError("steps", std::to_string(steps), "steps must be >= 1");
    auto sigmas = schedules::apply_denoise(steps, in.get_float("denoise"), [&](int64_t total) {
      at::Tensor t;
      std::string err;
      if (!ctx.compute_schedule(name, *model, total, t, err)) throw InputError("scheduler", name, err);
      return sigmas_vector(t);
    });
    return Outputs{sigmas_value(sigmas)};
  });
}

}  // namespace sf::nodes
