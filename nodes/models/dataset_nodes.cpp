// LoadDataset and FitGaussianMixture.
#include <ATen/ATen.h>

#include "../common/text.h"
#include "nodes.h"
#include "sigmaflow/diffusion/dataset.h"
#include "sigmaflow/diffusion/mixture_fit.h"

namespace sf::nodes {

using diffusion::FitOptions;
using diffusion::FitResult;

NodeDef load_dataset_node() {
  NodeContract c = Node(
      "LoadDataset", kModelCategory,
      "Reads samples from an IDX file (MNIST/Fashion-MNIST format, gzip or plain; Debian's dataset-fashion-mnist "
      "package ships them, `dpkg -L dataset-fashion-mnist` lists the paths) or a .npy file. uint8 pixels are scaled "
      "to [-1, 1]; float data is kept. image_shape reshapes each sample (e.g. \"1, 28, 28\"; empty = as stored).",
      {String("path", "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"), Int("offset", 0, 0, 1e12),
       Tooltip(Int("limit", 0, 0, 1e12), "number of samples (0 = all)"), String("image_shape", "")},
      {{"LATENT", "samples"}});
  return make_node(c, [](Context& ctx, const Inputs& in) {
    const std::string path = input_path(ctx, in, "path");
    auto r = diffusion::load_dataset(path, in.get_int("offset"), in.get_int("limit"));
    if (!r.ok()) throw InputError("path", "\"" + path + "\"", r.status().message(), r.status().code());
    at::Tensor t = r.value();
    const std::string& shape_text = in.get_string("image_shape");
    if (!shape_text.empty()) {
      std::vector<int64_t> shape = parse_shape(shape_text, "image_shape");
      int64_t n = 1;
      for (int64_t d : shape) n = (n < 0 || n > (int64_t{1} << 40) / d) ? -1 : n * d;
      if (n != t.numel() / t.size(0))
        throw InputError("image_shape", "\"" + shape_text + "\"",
                         "has " + (n < 0 ? std::string("too many") : std::to_string(n)) +
                             " values per sample, the data has " + std::to_string(t.numel() / t.size(0)));
      shape.insert(shape.begin(), t.size(0));
      t = t.reshape(shape);
    }
    auto latent = std::make_shared<Latent>(t);
    latent->sampler = "data";
    return Outputs{Value(latent)};
  });
}

NodeDef fit_gaussian_mixture_node() {
  NodeContract c;
  c.class_type = "FitGaussianMixture";
  c.category = kModelCategory;
  c.description =
      "Fits a Gaussian mixture to data by EM (k-means++ initialisation, seeded, float64, variance floor) "
      "and returns it as an exact-score MODEL with the data's sample shape.";
  c.inputs = {Port("dataset", "LATENT"),
              Int("components", 10, 1, 10000),
              Combo("covariance", {"diag", "isotropic"}),
              Int("iterations", 100, 1, 100000),
              Float("variance_floor", 1e-4, 1e-12, 10.0, 1e-5),
              Seed("seed"),
              Float("sigma_min", 0.002, 1e-6, 1e4, 0.001),
              Float("sigma_max", 80.0, 1e-5, 1e5, 0.1),
              String("device", "default"),
              Combo("dtype", {"float32", "float64"})};
  c.outputs = {{"MODEL", "MODEL", {kExactDensity}}};
  c.constraints = {Less("sigma_min", "sigma_max")};
  return make_node(c, [](Context& ctx, const Inputs& in) {
    at::Tensor data = in.get<Latent>("dataset")->samples();
    FitOptions o;
    o.components = in.get_int("components");
    o.diagonal = in.get_string("covariance") == "diag";
    o.iterations = in.get_int("iterations");
    o.variance_floor = in.get_float("variance_floor");
    o.seed = in.get_uint("seed");
    if (data.dim() < 2 || data.size(0) < o.components)
      throw InputError("dataset", c10::str(data.sizes()),
                       "need at least as many samples as components (" + std::to_string(o.components) + ")");
    if (data.numel() == 0)
      throw InputError("dataset", c10::str(data.sizes()), "the samples have no values (a zero-sized dimension)");
    if (!data.isfinite().all().item<bool>())
      throw InputError("dataset", c10::str(data.sizes()), "the samples contain NaN or Inf");
    double smin = in.get_float("sigma_min"), smax = in.get_float("sigma_max");
    if (!(smin < smax)) throw InputError("sigma_min", std::to_string(smin), "sigma_min must be < sigma_max");
    c10::Device device = model_device(ctx, in);
    FitResult fit = diffusion::fit_mixture(data, o);
    ctx.info("EM converged after " + std::to_string(fit.iterations) + " iterations, mean log-likelihood " +
             std::to_string(fit.mean_log_likelihood));
    auto model = std::make_shared<diffusion::GaussianMixture>(
        fit.params, smin, smax, device, in.get_string("dtype") == "float64" ? at::kDouble : at::kFloat);
    return Outputs{Value(std::shared_ptr<const Object>(model))};
  });
}

}  // namespace sf::nodes
