// The models plugin: exact Gaussian mixtures (and, later, TorchScript networks and datasets).
#pragma once

#include "sigmaflow/node.h"

namespace sf::nodes {

inline constexpr const char* kModelCategory = "loaders/models";

NodeDef gaussian_mixture_model_node();
NodeDef sample_data_node();
NodeDef torchscript_model_node();
NodeDef load_dataset_node();
NodeDef fit_gaussian_mixture_node();

}  // namespace sf::nodes
