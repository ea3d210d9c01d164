// The "images" plugin: PNG output and sample plots.
#include <sigmaflow/plugin.h>

namespace sf::nodes {
NodeDef latent_to_image_node();
NodeDef save_image_node();
NodeDef plot_samples_2d_node();
NodeDef plot_density_1d_node();
}  // namespace sf::nodes

SIGMAFLOW_PLUGIN("images", "0.1.0") {
  registrar.add_node(sf::nodes::latent_to_image_node());
  registrar.add_node(sf::nodes::save_image_node());
  registrar.add_node(sf::nodes::plot_samples_2d_node());
  registrar.add_node(sf::nodes::plot_density_1d_node());
}
