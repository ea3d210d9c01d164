// SamplerCustom and SamplerCustomAdvanced.
#include <ATen/ATen.h>

#include "guidance.h"
#include "nodes.h"
#include "noise.h"
#include "sampling_run.h"
#include "sigmaflow/guider.h"
#include "sigmaflow/ports.h"

namespace sf::nodes {

namespace {

// Declared once: each is the contract's entry and the typed reader in execute (sigmaflow/ports.h).
// Both nodes. positive, negative and cfg (SamplerCustom) are read by guided_model, shared with KSampler.
const In<Sampler> kSampler{Port("sampler", "SAMPLER")};
const In<at::Tensor> kSigmas{Port("sigmas", "SIGMAS")};
const In<Latent> kLatentImage{Port("latent_image", "LATENT")};
const In<bool> kComfyNoiseScaling{
    Tooltip(Bool("comfy_noise_scaling", false),
            "ComfyUI scales the initial noise by sqrt(1 + sigma_max^2) when sigmas[0] is the model's sigma_max "
            "(VP-style). Off: x = latent + sigmas[0] * noise, the VE convention.")};
// SamplerCustom
const In<Model> kModel{Port("model", "MODEL")};
const In<bool> kAddNoise{Bool("add_noise", true)};
const In<uint64_t> kNoiseSeed{Seed("noise_seed")};
// SamplerCustomAdvanced
const In<Noise> kNoise{Port("noise", "NOISE")};
const In<Guider> kGuider{Port("guider", "GUIDER")};

}  // namespace

NodeDef sampler_custom_node() {
  NodeContract c = Node(
      "SamplerCustom", kCustomSamplingCategory,
      "Runs a SAMPLER over SIGMAS from latent + sigmas[0] * noise(noise_seed), with ComfyUI's inputs. With "
      "positive conditioning the model is guided (cfg; the negative, or the unconditional model without one); "
      "without, it runs unconditionally and cfg is unused. Outputs the final samples and the last denoised "
      "estimate. Initial scaling: the VE rule by default; ComfyUI's sqrt(1 + sigma^2) rule is the "
      "comfy_noise_scaling option.",
      {kModel, kAddNoise, kNoiseSeed, Float("cfg", 8.0, 0.0, 100.0, 0.1), Optional(Port("positive", "CONDITIONING")),
       Optional(Port("negative", "CONDITIONING")), kSampler, kSigmas, kLatentImage, kComfyNoiseScaling},
      {{"LATENT", "output"}, {"LATENT", "denoised_output"}});
  return make_node(c, [](Context& ctx, const Inputs& in) {
    auto model = guided_model(in, kModel(in));
    uint64_t seed = kNoiseSeed(in);
    RandomNoiseObject noise(seed);
    auto r = sample_latent(ctx, *model, kAddNoise(in) ? &noise : nullptr, seed, *kSampler(in),
                           diffusion::Sigmas::from_tensor(kSigmas(in)), *kLatentImage(in), kComfyNoiseScaling(in));
    return Outputs{Value(r.output), Value(r.denoised)};
  });
}

NodeDef sampler_custom_advanced_node() {
  NodeContract c =
      Node("SamplerCustomAdvanced", kCustomSamplingCategory,
           "As ComfyUI's: the initial noise as a NOISE input (RandomNoise, DisableNoise, LatentToNoise) and the model "
           "through a GUIDER (BasicGuider, CFGGuider).",
           {kNoise, kGuider, kSampler, kSigmas, kLatentImage, kComfyNoiseScaling},
           {{"LATENT", "output"}, {"LATENT", "denoised_output"}});
  return make_node(c, [](Context& ctx, const Inputs& in) {
    auto noise = kNoise(in);
    auto guider = kGuider(in);
    SamplingInputs names;
    names.model = kGuider.name();
    SamplingResult r =
        sample_latent(ctx, guider->model(), noise.get(), noise->seed(), *kSampler(in),
                      diffusion::Sigmas::from_tensor(kSigmas(in)), *kLatentImage(in), kComfyNoiseScaling(in), names);
    return Outputs{Value(r.output), Value(r.denoised)};
  });
}

}  // namespace sf::nodes
