// The schedulers plugin: one function per node (each in its own file) and the named schedules.
#pragma once

#include "sigmaflow/node.h"

namespace sf::nodes {

inline constexpr const char* kSchedulerCategory = "sampling/custom_sampling/schedulers";
inline constexpr const char* kSigmasCategory = "sampling/custom_sampling/sigmas";

NodeDef basic_scheduler_node();
NodeDef karras_scheduler_node();
NodeDef exponential_scheduler_node();
NodeDef polyexponential_scheduler_node();
NodeDef vp_scheduler_node();
NodeDef laplace_scheduler_node();
NodeDef beta_sampling_scheduler_node();
NodeDef align_your_steps_scheduler_node();
NodeDef split_sigmas_node();
NodeDef split_sigmas_denoise_node();
NodeDef flip_sigmas_node();
NodeDef set_first_sigma_node();
NodeDef manual_sigmas_node();
NodeDef resample_sigmas_node();
NodeDef save_sigmas_node();
NodeDef load_sigmas_node();

// The stock named schedules (karras, exponential, simple, ...) computed from a model.
std::vector<ScheduleDef> stock_schedules();
// ComfyUI's BasicScheduler COMBO, in order.
const std::vector<std::string>& comfy_scheduler_names();

}  // namespace sf::nodes
