// The sampling plugin: sampler selection and options, the sampling nodes, noise and latents.
// Thin adapters over sigmaflow::diffusion; samplers are reached through the host's registry.
#pragma once

#include "sigmaflow/node.h"

namespace sf::nodes {

inline constexpr const char* kSamplerCategory = "sampling/custom_sampling/samplers";
inline constexpr const char* kCustomSamplingCategory = "sampling/custom_sampling";
inline constexpr const char* kNoiseCategory = "sampling/custom_sampling/noise";
inline constexpr const char* kLatentCategory = "latent";

NodeDef ksampler_select_node();
std::vector<NodeDef> sampler_option_nodes();
NodeDef random_noise_node();
NodeDef disable_noise_node();
NodeDef latent_to_noise_node();
NodeDef empty_latent_node();
NodeDef save_latent_node();
NodeDef load_latent_node();
NodeDef sampler_custom_node();
NodeDef sampler_custom_advanced_node();
NodeDef ksampler_node();
NodeDef empty_latent_image_node();
NodeDef basic_guider_node();
NodeDef cfg_guider_node();
NodeDef class_conditioning_node();
NodeDef load_conditioning_node();
NodeDef conditioning_zero_out_node();
// The stock samplers of the diffusion table, for the registry.
std::vector<SamplerDef> stock_samplers();

// The sampler `name` from the registry with `settings`; throws InputError about `input`.
std::shared_ptr<const Sampler> registry_sampler(Context& ctx, const std::string& name, const SamplerSettings& settings,
                                                const std::string& input);

}  // namespace sf::nodes
