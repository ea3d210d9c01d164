#include <ATen/ATen.h>

#include "../common/device.h"
#include "gaussian_mixture.h"
#include "nodes.h"

namespace sf::nodes {

NodeDef gaussian_mixture_model_node() {
  NodeContract c;
  c.class_type = "GaussianMixtureModel";
  c.display_name = "Gaussian Mixture Model (exact score)";
  c.category = kModelCategory;
  c.description =
      "A model with an exact denoiser, score and log-density: a Gaussian mixture given by a preset or by literal "
      "lists (weights, means, and per-component stds for isotropic or variances for diagonal components). Weights "
      "must sum to 1 unless normalize is on.";
  std::vector<std::string> presets = mixture_preset_names();
  presets.push_back("custom");
  c.inputs = {Combo("preset", presets, std::string("clusters2d")),
              Optional(Tooltip(List("weights"), "K weights, e.g. {\"__value__\": [0.5, 0.5]}")),
              Optional(Tooltip(List("means"), "K means, each a list of d numbers")),
              Optional(Tooltip(List("stds"), "K isotropic standard deviations")),
              Optional(Tooltip(List("variances"), "K rows of d diagonal variances")),
              Bool("normalize", false),
              Float("sigma_min", 0.002, 1e-6, 1e4, 0.001),
              Float("sigma_max", 80.0, 1e-5, 1e5, 0.1),
              String("device", "default"),
              Combo("dtype", {"float32", "float64"})};
  c.outputs = {{"MODEL", "MODEL"}};
  return make_node(c, [](Context& ctx, const Inputs& in) {
    const std::string& preset = in.get_string("preset");
    MixtureParams p;
    if (preset == "custom") {
      if (!in.has("means")) throw InputError("means", "null", "preset 'custom' needs means (and stds or variances)");
      const Literal* w = in.has("weights") ? &in.get_literal("weights") : nullptr;
      const Literal* s = in.has("stds") ? &in.get_literal("stds") : nullptr;
      const Literal* v = in.has("variances") ? &in.get_literal("variances") : nullptr;
      p = mixture_from_lists(w, in.get_literal("means"), s, v, in.get_bool("normalize"));
    } else {
      for (const char* name : {"weights", "means", "stds", "variances"})
        if (in.has(name))
          throw InputError(name, in.get(name).literal().to_json(), std::string("preset '") + preset + "' ignores " +
                                                                      name + "; choose preset 'custom' to use it");
      p = mixture_preset(preset);
    }
    double smin = in.get_float("sigma_min"), smax = in.get_float("sigma_max");
    if (!(smin < smax))
      throw InputError("sigma_min", std::to_string(smin),
                       "sigma_min (" + std::to_string(smin) + ") must be < sigma_max (" + std::to_string(smax) + ")");
    c10::Device device(c10::kCPU);
    try {
      device = resolve_device(in.get_string("device"), ctx.default_device());
    } catch (const std::invalid_argument& e) {
      throw InputError("device", "\"" + in.get_string("device") + "\"", e.what());
    }
    auto dtype = in.get_string("dtype") == "float64" ? at::kDouble : at::kFloat;
    auto model = std::make_shared<GaussianMixture>(std::move(p), smin, smax, device, dtype);
    return Outputs{Value(std::shared_ptr<const Object>(model))};
  });
}

NodeDef sample_data_node() {
  NodeContract c;
  c.class_type = "SampleData";
  c.category = kModelCategory;
  c.description = "n exact samples from the model's data distribution (mixtures), generated on the CPU from the seed "
                  "and moved to the model's device: reference samples for metrics.";
  c.inputs = {Port("model", "MODEL"), Int("n", 1000, 1, 1 << 24), Int("seed", 0, 0, 9223372036854775807.0)};
  c.outputs = {{"LATENT", "samples"}};
  return make_node(c, [](Context&, const Inputs& in) {
    auto model = in.get<Model>("model");
    at::Tensor x = model->sample_data(in.get_int("n"), static_cast<uint64_t>(in.get_int("seed")));
    if (!x.defined()) throw InputError("model", model->describe(), "this model cannot sample its data distribution exactly");
    auto latent = std::make_shared<Latent>(x);
    latent->sampler = "exact";
    latent->seed = in.get_int("seed");
    latent->model_fingerprint = model->fingerprint();
    return Outputs{Value(latent)};
  });
}

}  // namespace sf::nodes
