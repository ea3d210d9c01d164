// The "ab_testing" plugin: metrics, sweeps, reports.
#include <sigmaflow/plugin.h>

#include "nodes.h"

SIGMAFLOW_PLUGIN("ab_testing", "0.2.0") {
  using namespace sf::nodes;
  for (auto make :
       {trajectory_error_node, sliced_wasserstein_node, mode_coverage_node, mean_log_density_node,
        frechet_distance_node, score_error_node, log_likelihood_node, schedule_sweep_node, compare_report_node})
    registrar.add_node(make());
}
