// Sources of CONDITIONING for the models here: ClassConditioning (a class label, for
// class-conditional mixtures), LoadConditioning (an embedding tensor from .npy, for TorchScript
// networks that take one), ConditioningZeroOut (the unconditional branch, as ComfyUI's).
#include <ATen/ATen.h>

#include "guidance.h"
#include "nodes.h"
#include "sigmaflow/diffusion/npy.h"
#include "sigmaflow/guider.h"
#include "sigmaflow/ports.h"

namespace sf::nodes {

namespace {

// Declared once: each is the contract's entry and the typed reader in execute (sigmaflow/ports.h).
const In<int64_t> kClassIndex{Int("class_index", 0, 0, 1 << 30)};
const In<std::string> kPath{String("path", "conditioning.npy")};
const In<ConditioningValue> kConditioning{Port("conditioning", "CONDITIONING")};

}  // namespace

namespace {
Outputs conditioning(Conditioning c, std::string source) {
  return Outputs{Value(std::shared_ptr<const Object>(std::make_shared<ConditioningValue>(std::move(c), source)))};
}
}  // namespace

NodeDef class_conditioning_node() {
  NodeContract c = Node("ClassConditioning", kConditioningCategory,
                        "A class label as CONDITIONING, for class-conditional models (GaussianMixtureModel with "
                        "labelled components, e.g. preset ring8_classes). The guider checks it against the model.",
                        {kClassIndex}, {{"CONDITIONING", "CONDITIONING"}});
  return make_node(c, [](Context&, const Inputs& in) {
    Conditioning cond;
    cond.labels = at::full({1}, kClassIndex(in), at::kLong);
    return conditioning(std::move(cond), "");
  });
}

NodeDef load_conditioning_node() {
  NodeContract c = Node("LoadConditioning", kConditioningCategory,
                        "A conditioning embedding read from a NumPy .npy file: [1, ...] for the whole batch or "
                        "[batch, ...] per sample, passed to TorchScript networks as forward's third argument.",
                        {kPath}, {{"CONDITIONING", "CONDITIONING"}});
  return make_node(c, [](Context& ctx, const Inputs& in) {
    const std::string path = input_path(ctx, in, kPath.name());
    auto r = diffusion::load_npy(path);
    if (!r.ok()) throw InputError(kPath.name(), "\"" + path + "\"", r.status().message(), r.status().code());
    at::Tensor t = r.value();
    if (t.dim() < 1 || t.size(0) < 1)
      throw InputError(kPath.name(), "\"" + path + "\"",
                       "a conditioning embedding needs a batch dimension, got shape " + c10::str(t.sizes()));
    if (!at::isFloatingType(t.scalar_type())) t = t.to(at::kFloat);
    Conditioning cond;
    cond.embedding = t;
    return conditioning(std::move(cond), path);
  });
}

NodeDef conditioning_zero_out_node() {
  NodeContract c = Node("ConditioningZeroOut", kConditioningCategory,
                        "The unconditional branch, as ComfyUI's: an embedding becomes zeros of its shape; a class "
                        "label becomes no label (the whole class-conditional mixture).",
                        {kConditioning}, {{"CONDITIONING", "CONDITIONING"}});
  return make_node(c, [](Context&, const Inputs& in) {
    const Conditioning& src = kConditioning(in)->conditioning();
    Conditioning cond;
    if (src.embedding.defined()) cond.embedding = at::zeros_like(src.embedding);
    return conditioning(std::move(cond), "zeroed");
  });
}

}  // namespace sf::nodes
