// SamplerCustom and SamplerCustomAdvanced.
#include <ATen/ATen.h>

#include "guidance.h"
#include "nodes.h"
#include "noise.h"
#include "sampling_run.h"
#include "sigmaflow/guider.h"

namespace sf::nodes {

namespace {
InputSpec comfy_scaling_input() {
  return Tooltip(Bool("comfy_noise_scaling", false),
                 "ComfyUI scales the initial noise by sqrt(1 + sigma_max^2) when sigmas[0] is the model's sigma_max "
                 "(VP-style). Off: x = latent + sigmas[0] * noise, the VE convention.");
}
}  // namespace

NodeDef sampler_custom_node() {
  NodeContract c = Node(
      "SamplerCustom", kCustomSamplingCategory,
      "Runs a SAMPLER over SIGMAS from latent + sigmas[0] * noise(noise_seed), with ComfyUI's inputs. With "
      "positive conditioning the model is guided (cfg; the negative, or the unconditional model without one); "
      "without, it runs unconditionally and cfg is unused. Outputs the final samples and the last denoised "
      "estimate. Initial scaling: the VE rule by default; ComfyUI's sqrt(1 + sigma^2) rule is the "
      "comfy_noise_scaling option.",
      {Port("model", "MODEL"), Bool("add_noise", true), Seed("noise_seed"), Float("cfg", 8.0, 0.0, 100.0, 0.1),
       Optional(Port("positive", "CONDITIONING")), Optional(Port("negative", "CONDITIONING")),
       Port("sampler", "SAMPLER"), Port("sigmas", "SIGMAS"), Port("latent_image", "LATENT"), comfy_scaling_input()},
      {{"LATENT", "output"}, {"LATENT", "denoised_output"}});
  return make_node(c, [](Context& ctx, const Inputs& in) {
    auto model = guided_model(in, in.get<Model>("model"));
    uint64_t seed = in.get_uint("noise_seed");
    RandomNoiseObject noise(seed);
    auto r = sample_latent(ctx, *model, in.get_bool("add_noise") ? &noise : nullptr, seed, *in.get<Sampler>("sampler"),
                           diffusion::Sigmas::from_tensor(in.get_tensor("sigmas")), *in.get<Latent>("latent_image"),
                           in.get_bool("comfy_noise_scaling"));
    return Outputs{Value(r.output), Value(r.denoised)};
  });
}

NodeDef sampler_custom_advanced_node() {
  NodeContract c =
      Node("SamplerCustomAdvanced", kCustomSamplingCategory,
           "As ComfyUI's: the initial noise as a NOISE input (RandomNoise, DisableNoise, LatentToNoise) and the model "
           "through a GUIDER (BasicGuider, CFGGuider).",
           {Port("noise", "NOISE"), Port("guider", "GUIDER"), Port("sampler", "SAMPLER"), Port("sigmas", "SIGMAS"),
            Port("latent_image", "LATENT"), comfy_scaling_input()},
           {{"LATENT", "output"}, {"LATENT", "denoised_output"}});
  return make_node(c, [](Context& ctx, const Inputs& in) {
    auto noise = in.get<Noise>("noise");
    auto guider = in.get<Guider>("guider");
    SamplingInputs names;
    names.model = "guider";
    SamplingResult r = sample_latent(ctx, guider->model(), noise.get(), noise->seed(), *in.get<Sampler>("sampler"),
                                     diffusion::Sigmas::from_tensor(in.get_tensor("sigmas")),
                                     *in.get<Latent>("latent_image"), in.get_bool("comfy_noise_scaling"), names);
    return Outputs{Value(r.output), Value(r.denoised)};
  });
}

}  // namespace sf::nodes
