#include <ATen/ATen.h>

#include "nodes.h"
#include "noise.h"
#include "sigmaflow/diffusion/noise.h"
#include "sigmaflow/ports.h"

namespace sf::nodes {

namespace {

// Declared once: each is the contract's entry and the typed reader in execute (sigmaflow/ports.h).
const In<uint64_t> kNoiseSeed{Seed("noise_seed")};
const In<Latent> kLatent{Port("latent", "LATENT")};

}  // namespace

at::Tensor RandomNoiseObject::generate(const at::Tensor& latent) const {
  return diffusion::seeded_normal(seed_, latent.sizes(), latent.device(), latent.scalar_type());
}

at::Tensor ExplicitNoise::generate(const at::Tensor& latent) const {
  // About the NOISE input of the node sampling with it (SamplerCustomAdvanced's "noise").
  if (noise_.sizes() != latent.sizes())
    throw InputError(
        "noise", describe(),
        "explicit noise has shape " + c10::str(noise_.sizes()) + ", the latent has " + c10::str(latent.sizes()));
  return noise_.to(latent.device(), latent.scalar_type());
}

NodeDef random_noise_node() {
  NodeContract c =
      Node("RandomNoise", kNoiseCategory,
           "Gaussian noise from a seed, generated on the CPU (float32) and moved to the model's device, so a "
           "seed gives the same numbers on every machine (as ComfyUI).",
           {kNoiseSeed}, {{"NOISE", "NOISE"}});
  return make_node(c, [](Context&, const Inputs& in) {
    return Outputs{Value(std::make_shared<RandomNoiseObject>(kNoiseSeed(in)))};
  });
}

NodeDef disable_noise_node() {
  NodeContract c =
      Node("DisableNoise", kNoiseCategory, "No initial noise: the latent is used as the starting state as it is.", {},
           {{"NOISE", "NOISE"}});
  return make_node(c, [](Context&, const Inputs&) { return Outputs{Value(std::make_shared<DisabledNoise>())}; });
}

NodeDef latent_to_noise_node() {
  NodeContract c =
      Node("LatentToNoise", kNoiseCategory,
           "Uses a latent batch (e.g. loaded from .npy) as the initial noise, for exact comparisons with other "
           "tools. Its shape must match the latent being sampled.",
           {kLatent}, {{"NOISE", "NOISE"}});
  return make_node(c, [](Context&, const Inputs& in) {
    return Outputs{Value(std::make_shared<ExplicitNoise>(kLatent(in)->samples()))};
  });
}

}  // namespace sf::nodes
