// The models plugin: exact Gaussian mixtures, TorchScript networks, datasets and mixture fits.
#pragma once

#include <stdexcept>

#include "sigmaflow/diffusion/device.h"
#include "sigmaflow/node.h"

namespace sf::nodes {

inline constexpr const char* kModelCategory = "loaders/models";

NodeDef gaussian_mixture_model_node();
NodeDef sample_data_node();
NodeDef torchscript_model_node();
NodeDef load_dataset_node();
NodeDef fit_gaussian_mixture_node();

// The node's `device` input resolved against the host's --device (errors are about "device").
inline c10::Device model_device(Context& ctx, const Inputs& in) {
  return diffusion::resolve_device(in.get_string("device"), ctx.default_device());
}

}  // namespace sf::nodes
