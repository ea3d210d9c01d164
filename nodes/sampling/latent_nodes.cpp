// EmptyLatent, SaveLatent, LoadLatent.
#include <ATen/ATen.h>

#include <filesystem>

#include "../common/npy.h"
#include "../common/text.h"
#include "nodes.h"

namespace sf::nodes {

NodeDef empty_latent_node() {
  NodeContract c;
  c.class_type = "EmptyLatent";
  c.category = kLatentCategory;
  c.description = "Zeros of the model's sample shape: [batch_size, ...shape] on the model's device and dtype.";
  c.inputs = {Port("model", "MODEL"), Int("batch_size", 1, 1, 1 << 20)};
  c.outputs = {{"LATENT", "LATENT"}};
  return make_node(c, [](Context&, const Inputs& in) {
    auto model = in.get<Model>("model");
    std::vector<int64_t> shape{in.get_int("batch_size")};
    for (auto d : model->sample_shape()) shape.push_back(d);
    at::Tensor z = at::zeros(shape, at::TensorOptions().dtype(model->dtype()).device(model->device()));
    return Outputs{Value(std::make_shared<Latent>(z))};
  });
}

NodeDef save_latent_node() {
  NodeContract c;
  c.class_type = "SaveLatent";
  c.category = kLatentCategory;
  c.description = "Writes the batch as a NumPy .npy file <output>/<filename_prefix>.npy (atomically).";
  c.inputs = {Port("samples", "LATENT"), String("filename_prefix", "latents/samples")};
  c.output_node = true;
  return make_node(c, [](Context& ctx, const Inputs& in) {
    auto latent = in.get<Latent>("samples");
    const std::string& prefix = in.get_string("filename_prefix");
    std::string path = output_path(ctx, prefix, ".npy");
    Status st = save_npy(path, latent->samples());
    if (!st.ok()) throw InputError("filename_prefix", "\"" + prefix + "\"", st.message());
    ctx.record_output(path);
    return Outputs{};
  });
}

NodeDef load_latent_node() {
  NodeContract c;
  c.class_type = "LoadLatent";
  c.category = kLatentCategory;
  c.description = "Reads a NumPy .npy file (float32/float64, C or Fortran order) as a LATENT batch on the CPU; the "
                  "sampler moves it to the model's device.";
  c.inputs = {String("path", "samples.npy")};
  c.outputs = {{"LATENT", "LATENT"}};
  return make_node(c, [](Context&, const Inputs& in) {
    const std::string& path = in.get_string("path");
    auto r = load_npy(path);
    if (!r.ok()) throw InputError("path", "\"" + path + "\"", r.status().message());
    at::Tensor t = r.value();
    if (!at::isFloatingType(t.scalar_type())) t = t.to(at::kFloat);
    if (t.dim() < 1) throw InputError("path", "\"" + path + "\"", "a latent batch needs at least one dimension");
    return Outputs{Value(std::make_shared<Latent>(t))};
  });
}

}  // namespace sf::nodes
