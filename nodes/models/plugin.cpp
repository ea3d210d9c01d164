// The "models" plugin.
#include <sigmaflow/plugin.h>

#include "nodes.h"

SIGMAFLOW_PLUGIN("models", "0.2.0") {
  using namespace sf::nodes;
  registrar.add_node(gaussian_mixture_model_node());
  registrar.add_node(sample_data_node());
  registrar.add_node(torchscript_model_node());
  registrar.add_node(load_dataset_node());
  registrar.add_node(fit_gaussian_mixture_node());
}
