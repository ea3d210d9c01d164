// KSampler: schedule + noise + sampler in one node.
#include <ATen/ATen.h>

#include "guidance.h"
#include "nodes.h"
#include "noise.h"
#include "sampling_run.h"
#include "sigmaflow/diffusion/sigmas.h"
#include "sigmaflow/schedule_options.h"

namespace sf::nodes {

NodeDef ksampler_node() {
  NodeContract c = Node(
      "KSampler", "sampling",
      "One-node sampling with ComfyUI's inputs: the named schedule (BasicScheduler's denoise rule, computed on the "
      "unguided model), seeded CPU noise, the named sampler with default options, and classifier-free guidance "
      "when positive conditioning is connected (cfg; the negative, or the unconditional model without one). "
      "Without positive conditioning the model runs unconditionally and cfg is unused.",
      {Port("model", "MODEL"), Seed("seed"), Int("steps", 20, 1, 10000), Float("cfg", 8.0, 0.0, 100.0, 0.1),
       RegistryCombo("sampler_name", "samplers", {}, "euler"), RegistryCombo("scheduler", "schedulers", {}, "karras"),
       Optional(Port("positive", "CONDITIONING")), Optional(Port("negative", "CONDITIONING")),
       Port("latent_image", "LATENT"), Float("denoise", 1.0, 0.0, 1.0),
       Optional(Tooltip(Port("schedule_options", "SCHEDULE_OPTIONS"),
                        "settings for the named schedule where it is chosen (OptimalStepsOptions for optimal_steps)"))},
      {{"LATENT", "LATENT"}});
  c.constraints.push_back(diffusion::Sigmas::denoise_constraint());
  return make_node(c, [](Context& ctx, const Inputs& in) {
    auto model = in.get<Model>("model");
    SamplerSettings settings;  // k-diffusion's defaults, as ComfyUI's KSampler
    auto sampler = registry_sampler(ctx, in.get_string("sampler_name"), settings, "sampler_name");
    const std::string& sched = in.get_string("scheduler");
    ScheduleHints hints;
    hints.sampler = sampler.get();
    const std::shared_ptr<const ScheduleOptions> options =
        in.has("schedule_options") ? in.get<ScheduleOptions>("schedule_options") : nullptr;
    auto sigmas = diffusion::Sigmas::with_denoise(in.get_int("steps"), in.get_float("denoise"), [&](int64_t total) {
      auto s = compute_named_schedule(ctx, sched, *model, total, hints, options.get(), "schedule_options");
      if (!s.ok())
        throw InputError(options ? "schedule_options" : "scheduler", options ? options->describe() : sched,
                         s.status().message());
      return *s;
    });
    uint64_t seed = in.get_uint("seed");
    RandomNoiseObject noise(seed);
    SamplingInputs names;
    names.sigmas = "scheduler";
    auto guided = guided_model(in, model);
    auto r = sample_latent(ctx, *guided, &noise, seed, *sampler, sigmas.rounded_to_float32(),
                           *in.get<Latent>("latent_image"), false, names);
    return Outputs{Value(r.output)};
  });
}

}  // namespace sf::nodes
