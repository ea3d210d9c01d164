// BasicGuider and CFGGuider (ComfyUI's GUIDER nodes), and the guidance rule SamplerCustom and
// KSampler apply from their own cfg / positive / negative inputs.
#include <ATen/ATen.h>

#include <cmath>

#include "guidance.h"
#include "nodes.h"
#include "sigmaflow/diffusion/guidance.h"
#include "sigmaflow/guider.h"

namespace sf::nodes {

namespace {
Conditioning checked(const Model& model, const Inputs& in, const std::string& input) {
  auto value = in.get<ConditioningValue>(input);
  Status st = check_conditioning(model, value->conditioning());
  if (!st.ok()) throw InputError(input, value->describe(), st.message());
  return value->conditioning();
}

void check_cfg(double cfg) {
  if (!std::isfinite(cfg) || cfg < 0)
    throw InputError("cfg", std::to_string(cfg), "cfg must be a finite number >= 0, got " + std::to_string(cfg));
}
}  // namespace

std::shared_ptr<const Model> guided_model(const Inputs& in, std::shared_ptr<const Model> model) {
  if (!in.has("positive")) {
    if (in.has("negative"))
      throw InputError("negative", in.get<ConditioningValue>("negative")->describe(),
                       "negative conditioning needs positive conditioning too");
    return model;  // unconditional: no guidance, one evaluation per step
  }
  const double cfg = in.get_float("cfg");
  check_cfg(cfg);
  Conditioning positive = checked(*model, in, "positive");
  std::optional<Conditioning> negative;
  if (in.has("negative")) negative = checked(*model, in, "negative");
  return std::make_shared<diffusion::GuidedModel>(std::move(model), positive, negative, cfg);
}

NodeDef basic_guider_node() {
  NodeContract c =
      Node("BasicGuider", kGuiderCategory,
           "The model conditioned on one CONDITIONING, no classifier-free guidance (one evaluation per "
           "step), for SamplerCustomAdvanced. Without conditioning (ComfyUI requires it; unconditional "
           "models here do not): the model as it is.",
           {Port("model", "MODEL"), Optional(Port("conditioning", "CONDITIONING"))}, {{"GUIDER", "GUIDER"}});
  return make_node(c, [](Context&, const Inputs& in) {
    auto model = in.get<Model>("model");
    if (!in.has("conditioning"))
      return Outputs{Value(std::shared_ptr<const Object>(std::make_shared<Guider>(model, model, "unconditional")))};
    Conditioning cond = checked(*model, in, "conditioning");
    auto guided = std::make_shared<diffusion::GuidedModel>(model, cond, std::nullopt, 1.0);
    auto g = std::make_shared<Guider>(guided, model, in.get<ConditioningValue>("conditioning")->describe());
    return Outputs{Value(std::shared_ptr<const Object>(g))};
  });
}

NodeDef cfg_guider_node() {
  NodeContract c = Node(
      "CFGGuider", kGuiderCategory,
      "Classifier-free guidance: D = D(x|negative) + cfg (D(x|positive) - D(x|negative)), as ComfyUI's cfg_function. "
      "cfg = 1 evaluates only the positive branch (half the evaluations).",
      {Port("model", "MODEL"), Port("positive", "CONDITIONING"), Port("negative", "CONDITIONING"),
       Float("cfg", 8.0, 0.0, 100.0, 0.1)},
      {{"GUIDER", "GUIDER"}});
  return make_node(c, [](Context&, const Inputs& in) {
    auto model = in.get<Model>("model");
    auto guided = guided_model(in, model);
    char text[64];
    std::snprintf(text, sizeof text, "cfg %g", in.get_float("cfg"));
    auto g = std::make_shared<Guider>(guided, model, text);
    return Outputs{Value(std::shared_ptr<const Object>(g))};
  });
}

}  // namespace sf::nodes
