// KSampler: schedule + noise + sampler in one node.
#include <ATen/ATen.h>

#include "../common/sigmas.h"
#include "k_samplers.h"
#include "nodes.h"
#include "noise.h"
#include "sampling_run.h"

namespace sf::nodes {

NodeDef ksampler_node() {
  NodeContract c;
  c.class_type = "KSampler";
  c.category = "sampling";
  c.description = "One-node sampling: the named schedule (BasicScheduler's denoise rule), seeded CPU noise, and the "
                  "named sampler with default options. No conditioning/CFG: models here are unconditional.";
  InputSpec sampler = Combo("sampler_name", sampler_names(), std::string("euler"));
  sampler.choices_from = "samplers";
  InputSpec sched = Combo("scheduler", {"simple", "sgm_uniform", "karras", "exponential", "ddim_uniform", "beta",
                                        "normal", "linear_quadratic", "kl_optimal"},
                          std::string("karras"));
  sched.choices_from = "schedulers";
  c.inputs = {Port("model", "MODEL"), Int("seed", 0, 0, 9223372036854775807.0), Int("steps", 20, 1, 10000), sampler,
              sched, Port("latent_image", "LATENT"), Float("denoise", 1.0, 0.0, 1.0)};
  c.outputs = {{"LATENT", "LATENT"}};
  return make_node(c, [](Context& ctx, const Inputs& in) {
    auto model = in.get<Model>("model");
    auto latent = in.get<Latent>("latent_image");
    int64_t steps = in.get_int("steps");
    double denoise = in.get_float("denoise");
    const std::string& sched_name = in.get_string("scheduler");
    std::vector<double> sigmas;
    int64_t total = steps;
    if (denoise < 1.0) total = denoise <= 0 ? 0 : static_cast<int64_t>(static_cast<double>(steps) / denoise);
    if (total > 0) {
      at::Tensor t;
      std::string err;
      if (!ctx.compute_schedule(sched_name, *model, total, t, err)) throw InputError("scheduler", sched_name, err);
      sigmas = sigmas_vector(sigmas_tensor(sigmas_vector(t)));  // SIGMAS are float32 everywhere
      if (static_cast<int64_t>(sigmas.size()) > steps + 1) sigmas.erase(sigmas.begin(), sigmas.end() - (steps + 1));
    }
    std::string err;
    auto sampler = ctx.make_sampler(in.get_string("sampler_name"), err);
    if (!sampler) throw InputError("sampler_name", in.get_string("sampler_name"), err);
    auto seed = static_cast<uint64_t>(in.get_int("seed"));
    RandomNoiseObject noise(seed);
    auto r = sample_latent(ctx, *model, &noise, seed, *sampler, sigmas, *latent, false, "scheduler", "latent_image");
    return Outputs{Value(r.output)};
  });
}

}  // namespace sf::nodes
