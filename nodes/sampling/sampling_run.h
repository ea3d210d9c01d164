// The shared body of SamplerCustom, SamplerCustomAdvanced and KSampler.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "sigmaflow/node.h"

namespace sf::nodes {

struct SamplingResult {
  std::shared_ptr<Latent> output;
  std::shared_ptr<Latent> denoised;
};

// Starts from latent + sigmas[0] * noise (or sqrt(1 + sigmas[0]^2) * noise when comfy_scaling and
// sigmas[0] is the model's sigma_max), runs the sampler, and fills the provenance. Errors name
// the given input names.
SamplingResult sample_latent(Context& ctx, const Model& model, const Noise* noise, uint64_t seed,
                             const Sampler& sampler, const std::vector<double>& sigmas, const Latent& latent,
                             bool comfy_scaling, const std::string& sigmas_input, const std::string& latent_input);

}  // namespace sf::nodes
