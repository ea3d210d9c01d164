// The "schedulers" plugin: stock schedule nodes, sigma tools and the named schedule registry.
#include <sigmaflow/plugin.h>

#include "nodes.h"

SIGMAFLOW_PLUGIN("schedulers", "0.2.0") {
  using namespace sf::nodes;
  for (auto make :
       {basic_scheduler_node, karras_scheduler_node, exponential_scheduler_node, polyexponential_scheduler_node,
        vp_scheduler_node, laplace_scheduler_node, beta_sampling_scheduler_node, align_your_steps_scheduler_node,
        split_sigmas_node, split_sigmas_denoise_node, flip_sigmas_node, set_first_sigma_node, manual_sigmas_node,
        resample_sigmas_node, save_sigmas_node, load_sigmas_node})
    registrar.add_node(make());
  for (auto& s : stock_schedules()) registrar.add_schedule(std::move(s));
}
