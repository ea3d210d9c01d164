// The "score_optimal" plugin: the ScoreOptimalScheduler node and its named schedules.
#include <sigmaflow/plugin.h>

namespace sf::so {
NodeDef score_optimal_scheduler_node();
std::vector<ScheduleDef> score_optimal_schedules();
}  // namespace sf::so

SIGMAFLOW_PLUGIN("score_optimal", "0.2.0") {
  registrar.add_node(sf::so::score_optimal_scheduler_node());
  for (auto& s : sf::so::score_optimal_schedules()) registrar.add_schedule(std::move(s));
}
