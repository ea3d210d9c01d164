// The "training" plugin: TrainDenoiser (EDM denoisers with Adam + EMA; lognormal, fixed or
// adaptive noise levels, the paper's Algorithm 2).
#include <sigmaflow/plugin.h>

#include "nodes.h"

SIGMAFLOW_PLUGIN("training", "0.1.0") { registrar.add_node(sf::nodes::train_denoiser_node()); }
