// Schedulers built from tables: Beta sampling over the model's sigma table, Align Your Steps.
#include <ATen/ATen.h>

#include "nodes.h"
#include "sigmaflow/diffusion/sigmas.h"
#include "sigmaflow/scheduler/stock.h"

namespace sf::nodes {

NodeDef beta_sampling_scheduler_node() {
  NodeContract c = Node("BetaSamplingScheduler", kSchedulerCategory,
                        "Beta(alpha, beta) quantiles of the model's sigma-table index; repeated indices are dropped.",
                        {Port("model", "MODEL"), Int("steps", 20, 1, 10000), Float("alpha", 0.6, 0.0, 50.0),
                         Float("beta", 0.6, 0.0, 50.0)},
                        {{"SIGMAS", "SIGMAS"}});
  return make_node(c, [](Context&, const Inputs& in) {
    auto model = in.get<Model>("model");
    double a = in.get_float("alpha"), b = in.get_float("beta");
    return Outputs{diffusion::Sigmas(schedules::beta(in.get_int("steps"), model->sigma_table(), a, b)).to_value()};
  });
}

NodeDef align_your_steps_scheduler_node() {
  NodeContract c = Node(
      "AlignYourStepsScheduler", kSchedulerCategory,
      "Align Your Steps (Sabour et al. 2024) published 10-step tables, log-linearly resampled to other step counts; "
      "denoise < 1 keeps the last round(steps * denoise) steps; the last value is set to 0.",
      {Combo("model_type", {"SD1", "SDXL", "SVD"}), Int("steps", 10, 1, 10000), Float("denoise", 1.0, 0.0, 1.0)},
      {{"SIGMAS", "SIGMAS"}});
  return make_node(c, [](Context&, const Inputs& in) {
    return Outputs{diffusion::Sigmas(schedules::align_your_steps(in.get_string("model_type"), in.get_int("steps"),
                                                                 in.get_float("denoise")))
                       .to_value()};
  });
}

}  // namespace sf::nodes
