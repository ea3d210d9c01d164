// The "score_optimal" plugin: the ScoreOptimalScheduler and OptimalStepsScheduler nodes, their
// named schedules, and OptimalStepsOptions (settings for the named optimal_steps).
#include <sigmaflow/plugin.h>

namespace sf::so {
NodeDef score_optimal_scheduler_node();
std::vector<ScheduleDef> score_optimal_schedules();
}  // namespace sf::so
namespace sf::oss {
NodeDef optimal_steps_scheduler_node();
NodeDef optimal_steps_options_node();
std::vector<ScheduleDef> optimal_steps_schedules();
}  // namespace sf::oss

SIGMAFLOW_PLUGIN("score_optimal", "0.2.0") {
  registrar.add_node(sf::so::score_optimal_scheduler_node());
  for (auto& s : sf::so::score_optimal_schedules()) registrar.add_schedule(std::move(s));
  registrar.add_node(sf::oss::optimal_steps_scheduler_node());
  registrar.add_node(sf::oss::optimal_steps_options_node());
  for (auto& s : sf::oss::optimal_steps_schedules()) registrar.add_schedule(std::move(s));
}
