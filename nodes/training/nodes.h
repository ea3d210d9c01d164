// The training plugin's nodes and the files they write.
#pragma once

#include <string>
#include <vector>

#include "sigmaflow/diffusion/training.h"
#include "sigmaflow/node.h"

namespace sf::nodes {

inline constexpr const char* kTrainingCategory = "training";

NodeDef train_denoiser_node();

// Writes <base>_training.json (settings, the saved network's metadata under "model", loss curve,
// schedule snapshots, per-level costs) and plots of the
// loss and of the schedule snapshots (<base>_loss.png/.svg, <base>_schedule.png/.svg). Returns
// the written paths.
std::vector<std::string> write_training_report(const std::string& base, const std::string& title,
                                               const diffusion::TrainLog& log, const std::vector<double>& initial_knots,
                                               const std::vector<double>& final_knots, const std::string& settings_json,
                                               const std::string& model_metadata_json);

}  // namespace sf::nodes
