// KSampler: schedule + noise + sampler in one node.
#include <ATen/ATen.h>

#include "nodes.h"
#include "noise.h"
#include "sampling_run.h"

namespace sf::nodes {

NodeDef ksampler_node() {
  NodeContract c = Node(
      "KSampler", "sampling",
      "One-node sampling: the named schedule (BasicScheduler's denoise rule), seeded CPU noise, and the "
      "named sampler with default options. No conditioning/CFG: models here are unconditional.",
      {Port("model", "MODEL"), Seed("seed"), Int("steps", 20, 1, 10000),
       RegistryCombo("sampler_name", "samplers", {}, "euler"), RegistryCombo("scheduler", "schedulers", {}, "karras"),
       Port("latent_image", "LATENT"), Float("denoise", 1.0, 0.0, 1.0)},
      {{"LATENT", "LATENT"}});
  return make_node(c, [](Context& ctx, const Inputs& in) {
    auto model = in.get<Model>("model");
    SamplerSettings settings;  // k-diffusion's defaults, as ComfyUI's KSampler
    auto sampler = registry_sampler(ctx, in.get_string("sampler_name"), settings, "sampler_name");
    const std::string& sched = in.get_string("scheduler");
    ScheduleHints hints;
    hints.sampler = sampler.get();
    auto sigmas = diffusion::Sigmas::with_denoise(in.get_int("steps"), in.get_float("denoise"), [&](int64_t total) {
      auto s = ctx.compute_schedule(sched, *model, total, hints);
      if (!s.ok()) throw InputError("scheduler", sched, s.status().message());
      return *s;
    });
    uint64_t seed = in.get_uint("seed");
    RandomNoiseObject noise(seed);
    SamplingInputs names;
    names.sigmas = "scheduler";
    auto r = sample_latent(ctx, *model, &noise, seed, *sampler, sigmas.rounded_to_float32(),
                           *in.get<Latent>("latent_image"), false, names);
    return Outputs{Value(r.output)};
  });
}

}  // namespace sf::nodes
