// The shared body of SamplerCustom, SamplerCustomAdvanced and KSampler.
#pragma once

#include <memory>
#include <string>

#include "sigmaflow/diffusion/sigmas.h"
#include "sigmaflow/node.h"

namespace sf::nodes {

struct SamplingResult {
  std::shared_ptr<Latent> output;
  std::shared_ptr<Latent> denoised;
};

// Names the node inputs that errors should point at.
struct SamplingInputs {
  std::string sigmas = "sigmas";
  std::string latent = "latent_image";
  std::string model = "model";  // or "guider": the input whose model the latent must match
};

// Starts from latent + sigmas[0] * noise (or sqrt(1 + sigmas[0]^2) * noise when comfy_scaling and
// sigmas[0] is the model's sigma_max), runs the sampler, and fills the provenance.
SamplingResult sample_latent(Context& ctx, const Model& model, const Noise* noise, uint64_t seed,
                             const Sampler& sampler, const diffusion::Sigmas& sigmas, const Latent& latent,
                             bool comfy_scaling, const SamplingInputs& names = {});

}  // namespace sf::nodes
