#include <nlohmann/json.hpp>

#include "nodes.h"
#include "plot.h"
#include "sigmaflow/files.h"

namespace sf::nodes {

std::vector<std::string> write_training_report(const std::string& base, const std::string& title,
                                               const diffusion::TrainLog& log, const std::vector<double>& initial_knots,
                                               const std::vector<double>& final_knots, const std::string& settings_json,
                                               const std::string& model_metadata_json) {
  std::vector<std::string> written;
  nlohmann::json j;
  j["settings"] = nlohmann::json::parse(settings_json);
  j["model"] = nlohmann::json::parse(model_metadata_json);
  j["loss_steps"] = log.loss_steps;
  j["loss"] = log.loss;
  j["seconds"] = log.seconds;
  j["final_levels"] = final_knots;
  j["snapshots"] = nlohmann::json::array();
  for (const auto& s : log.snapshots)
    j["snapshots"].push_back({{"step", s.step}, {"levels", s.knots}, {"costs", s.costs}});
  Status st = write_file_atomic(base + "_training.json", j.dump(1));
  if (!st.ok()) throw std::runtime_error(st.message());
  written.push_back(base + "_training.json");

  std::vector<double> steps(log.loss_steps.begin(), log.loss_steps.end());
  if (!steps.empty()) {
    Series loss{"training loss (mean per interval)", steps, log.loss};
    Status p = write_plot(base + "_loss", plot_spec(title + ": loss", "step", "EDM-weighted loss", false, false),
                          {loss}, &written);
    if (!p.ok() && p.code() != Code::kInvalidArgument) throw std::runtime_error(p.message());
  }
  // Schedule snapshots: level index against sigma, a few snapshots plus the final schedule.
  std::vector<Series> series;
  auto as_series = [](const std::string& label, const std::vector<double>& knots) {
    Series s{label, {}, knots};
    for (size_t i = 0; i < knots.size(); ++i) s.x.push_back(static_cast<double>(i));
    return s;
  };
  const size_t n = log.snapshots.size();
  if (!initial_knots.empty()) series.push_back(as_series("initial", initial_knots));
  if (n > 0) {
    for (size_t k : {n / 4, n / 2, 3 * n / 4})
      if (k > 0 && k < n - 1)
        series.push_back(as_series("step " + std::to_string(log.snapshots[k].step), log.snapshots[k].knots));
  }
  if (!final_knots.empty()) series.push_back(as_series("final", final_knots));
  if (!series.empty()) {
    Status p =
        write_plot(base + "_schedule", plot_spec(title + ": training levels", "level index", "sigma", false, true),
                   series, &written);
    if (!p.ok() && p.code() != Code::kInvalidArgument) throw std::runtime_error(p.message());
  }
  return written;
}

}  // namespace sf::nodes
