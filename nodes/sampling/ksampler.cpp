// KSampler: schedule + noise + sampler in one node.
#include <ATen/ATen.h>

#include "guidance.h"
#include "nodes.h"
#include "noise.h"
#include "sampling_run.h"
#include "sigmaflow/diffusion/sigmas.h"
#include "sigmaflow/ports.h"
#include "sigmaflow/schedule_options.h"

namespace sf::nodes {

namespace {

// Declared once: each is the contract's entry and the typed reader in execute (sigmaflow/ports.h).
// positive, negative and cfg are read by guided_model, shared with the other sampling nodes.
const In<Model> kModel{Port("model", "MODEL")};
const In<uint64_t> kSeed{Seed("seed")};
const In<int64_t> kSteps{Int("steps", 20, 1, 10000)};
const In<std::string> kSamplerName{RegistryCombo("sampler_name", "samplers", {}, "euler")};
const In<std::string> kScheduler{RegistryCombo("scheduler", "schedulers", {}, "karras")};
const In<Latent> kLatentImage{Port("latent_image", "LATENT")};
const In<double> kDenoise{Float("denoise", 1.0, 0.0, 1.0)};
const In<ScheduleOptions> kScheduleOptions{
    Optional(Tooltip(Port("schedule_options", "SCHEDULE_OPTIONS"),
                     "settings for the named schedule where it is chosen (OptimalStepsOptions for optimal_steps)"))};

}  // namespace

NodeDef ksampler_node() {
  NodeContract c = Node(
      "KSampler", "sampling",
      "One-node sampling with ComfyUI's inputs: the named schedule (BasicScheduler's denoise rule, computed on the "
      "unguided model), seeded CPU noise, the named sampler with default options, and classifier-free guidance "
      "when positive conditioning is connected (cfg; the negative, or the unconditional model without one). "
      "Without positive conditioning the model runs unconditionally and cfg is unused.",
      {kModel, kSeed, kSteps, Float("cfg", 8.0, 0.0, 100.0, 0.1), kSamplerName, kScheduler,
       Optional(Port("positive", "CONDITIONING")), Optional(Port("negative", "CONDITIONING")), kLatentImage, kDenoise,
       kScheduleOptions},
      {{"LATENT", "LATENT"}});
  c.constraints.push_back(diffusion::Sigmas::denoise_constraint());
  return make_node(c, [](Context& ctx, const Inputs& in) {
    auto model = kModel(in);
    SamplerSettings settings;  // k-diffusion's defaults, as ComfyUI's KSampler
    auto sampler = registry_sampler(ctx, kSamplerName(in), settings, kSamplerName.name());
    const std::string& sched = kScheduler(in);
    ScheduleHints hints;
    hints.sampler = sampler.get();
    const auto options = kScheduleOptions.get_if(in);
    auto sigmas = diffusion::Sigmas::with_denoise(kSteps(in), kDenoise(in), [&](int64_t total) {
      auto s = compute_named_schedule(ctx, sched, *model, total, hints, options.get(), kScheduleOptions.name());
      if (!s.ok())
        throw InputError(options ? kScheduleOptions.name() : kScheduler.name(), options ? options->describe() : sched,
                         s.status().message());
      return *s;
    });
    const uint64_t seed = kSeed(in);
    RandomNoiseObject noise(seed);
    SamplingInputs names;
    names.sigmas = kScheduler.name();
    auto guided = guided_model(in, model);
    auto r = sample_latent(ctx, *guided, &noise, seed, *sampler, sigmas.rounded_to_float32(), *kLatentImage(in), false,
                           names);
    return Outputs{Value(r.output)};
  });
}

}  // namespace sf::nodes
