// EmptyLatent, SaveLatent, LoadLatent.
#include <ATen/ATen.h>

#include <cmath>

#include "nodes.h"
#include "sigmaflow/diffusion/memory.h"
#include "sigmaflow/diffusion/noise.h"
#include "sigmaflow/diffusion/npy.h"
#include "sigmaflow/ports.h"

namespace sf::nodes {

namespace {

// Declared once: each is the contract's entry and the typed reader in execute (sigmaflow/ports.h).
const In<Model> kModel{Port("model", "MODEL")};
const In<int64_t> kLatentBatchSize{Int("batch_size", 1, 1, 1 << 20)};
const In<int64_t> kWidth{Int("width", 512, 16, 16384, 8)};
const In<int64_t> kHeight{Int("height", 512, 16, 16384, 8)};
const In<int64_t> kImageBatchSize{Int("batch_size", 1, 1, 4096)};
const In<Latent> kSamples{Port("samples", "LATENT")};
const In<std::string> kFilenamePrefix{String("filename_prefix", "latents/samples")};
const In<std::string> kPath{String("path", "samples.npy")};

}  // namespace

NodeDef empty_latent_node() {
  NodeContract c = Node("EmptyLatent", kLatentCategory,
                        "Zeros of the model's sample shape: [batch_size, ...shape] on the model's device and dtype.",
                        {kModel, kLatentBatchSize}, {{"LATENT", "LATENT"}});
  return make_node(c, [](Context&, const Inputs& in) {
    auto model = kModel(in);
    auto shape = diffusion::batch_shape(kLatentBatchSize(in), model->sample_shape());
    uint64_t bytes = 0;
    if (!diffusion::checked_bytes(shape, c10::elementSize(model->dtype()), bytes))
      throw InputError(kLatentBatchSize.name(), std::to_string(shape[0]), "the latent's size overflows");
    Status mem = diffusion::check_allocation(bytes, "a latent batch of " + c10::str(at::IntArrayRef(shape)));
    if (!mem.ok())
      throw InputError(kLatentBatchSize.name(), std::to_string(shape[0]), mem.message(), Code::kResourceExhausted);
    at::Tensor z = at::zeros(shape, at::TensorOptions().dtype(model->dtype()).device(model->device()));
    return Outputs{Value(std::make_shared<Latent>(z))};
  });
}

NodeDef empty_latent_image_node() {
  NodeContract c = Node("EmptyLatentImage", kLatentCategory,
                        "ComfyUI's EmptyLatentImage: zeros [batch_size, 4, height / 8, width / 8] (an SD-style "
                        "latent), float32 on the CPU; the sampler moves it to the model's device and dtype.",
                        {kWidth, kHeight, kImageBatchSize}, {{"LATENT", "LATENT"}});
  // float32 [batch, 4, height / 8, width / 8]: width x height x batch_size / 4 bytes; validation
  // refuses more than 64 GiB (the run checks the machine's own memory budget as well).
  c.constraints.push_back(ProductAtMost({kWidth.name(), kHeight.name(), kImageBatchSize.name()}, {},
                                        std::ldexp(1.0, 38),
                                        "the latent takes width x height x batch_size / 4 bytes; at most 64 GiB"));
  return make_node(c, [](Context&, const Inputs& in) {
    std::vector<int64_t> shape{kImageBatchSize(in), 4, kHeight(in) / 8, kWidth(in) / 8};
    uint64_t bytes = 0;
    diffusion::checked_bytes(shape, 4, bytes);  // bounded by the input ranges: cannot overflow
    Status mem = diffusion::check_allocation(bytes, "a latent batch of " + c10::str(at::IntArrayRef(shape)));
    if (!mem.ok())
      throw InputError(kImageBatchSize.name(), std::to_string(shape[0]), mem.message(), Code::kResourceExhausted);
    return Outputs{Value(std::make_shared<Latent>(at::zeros(shape, at::kFloat)))};
  });
}

NodeDef save_latent_node() {
  NodeContract c =
      OutputNode("SaveLatent", kLatentCategory,
                 "Writes the batch as a NumPy .npy file <output>/<filename_prefix>_NNNNN_.npy (atomically; the "
                 "counter is dropped when the run overwrites).",
                 {kSamples, kFilenamePrefix});
  return make_node(c, [](Context& ctx, const Inputs& in) {
    auto latent = kSamples(in);
    const std::string& prefix = kFilenamePrefix(in);
    auto path = ctx.output_path(prefix, ".npy", kFilenamePrefix.name());
    if (!path.ok()) throw InputError(kFilenamePrefix.name(), "\"" + prefix + "\"", path.status().message());
    Status st = diffusion::save_npy(*path, latent->samples());
    if (!st.ok()) throw InputError(kFilenamePrefix.name(), "\"" + prefix + "\"", st.message(), st.code());
    ctx.record_output(*path);
    return Outputs{};
  });
}

NodeDef load_latent_node() {
  NodeContract c =
      Node("LoadLatent", kLatentCategory,
           "Reads a NumPy .npy file (float32/float64, C or Fortran order) as a LATENT batch on the CPU; the "
           "sampler moves it to the model's device.",
           {kPath}, {{"LATENT", "LATENT"}});
  return make_node(c, [](Context& ctx, const Inputs& in) {
    const std::string path = input_path(ctx, in, kPath.name());
    auto r = diffusion::load_npy(path);
    if (!r.ok()) throw InputError(kPath.name(), "\"" + path + "\"", r.status().message(), r.status().code());
    at::Tensor t = r.value();
    if (!at::isFloatingType(t.scalar_type())) t = t.to(at::kFloat);
    if (t.dim() < 1) throw InputError(kPath.name(), "\"" + path + "\"", "a latent batch needs at least one dimension");
    return Outputs{Value(std::make_shared<Latent>(t))};
  });
}

}  // namespace sf::nodes
