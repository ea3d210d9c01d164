// The "sampling" plugin: k-diffusion samplers, sampling nodes, guiders and conditioning, noise and
// latents.
#include <sigmaflow/plugin.h>

#include "nodes.h"

SIGMAFLOW_PLUGIN("sampling", "0.2.0") {
  using namespace sf::nodes;
  for (auto make : {ksampler_select_node, random_noise_node, disable_noise_node, latent_to_noise_node,
                    empty_latent_node, save_latent_node, load_latent_node, sampler_custom_node,
                    sampler_custom_advanced_node, ksampler_node, empty_latent_image_node, basic_guider_node,
                    cfg_guider_node, class_conditioning_node, load_conditioning_node, conditioning_zero_out_node})
    registrar.add_node(make());
  for (auto& def : sampler_option_nodes()) registrar.add_node(std::move(def));
  for (auto& def : stock_samplers()) registrar.add_sampler(std::move(def));
}
