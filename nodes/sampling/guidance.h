// The guidance rule of nodes with cfg / positive / negative inputs (SamplerCustom, KSampler,
// CFGGuider): no positive -> the bare model (cfg unused); positive -> classifier-free guidance
// with the negative, or the unconditional model when there is none. Conditioning is checked
// against the model; errors name the input.
#pragma once

#include <memory>

#include "sigmaflow/node.h"

namespace sf::nodes {

inline constexpr const char* kGuiderCategory = "sampling/custom_sampling/guiders";
inline constexpr const char* kConditioningCategory = "conditioning";

std::shared_ptr<const Model> guided_model(const Inputs& in, std::shared_ptr<const Model> model);

}  // namespace sf::nodes
