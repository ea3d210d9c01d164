// LoadDataset and FitGaussianMixture.
#include <ATen/ATen.h>

#include "../common/device.h"
#include "dataset.h"
#include "mixture_fit.h"
#include "nodes.h"

namespace sf::nodes {

NodeDef load_dataset_node() {
  NodeContract c;
  c.class_type = "LoadDataset";
  c.category = kModelCategory;
  c.description =
      "Reads samples from an IDX file (MNIST/Fashion-MNIST format, gzip or plain; Debian's dataset-fashion-mnist "
      "package ships them, `dpkg -L dataset-fashion-mnist` lists the paths) or a .npy file. uint8 pixels are scaled "
      "to [-1, 1]; float data is kept. image_shape reshapes each sample (e.g. \"1, 28, 28\"; empty = as stored).";
  c.inputs = {String("path", "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"), Int("offset", 0, 0, 1e12),
              Tooltip(Int("limit", 0, 0, 1e12), "number of samples (0 = all)"), String("image_shape", "")};
  c.outputs = {{"LATENT", "samples"}};
  return make_node(c, [](Context&, const Inputs& in) {
    const std::string& path = in.get_string("path");
    auto r = load_dataset(path, in.get_int("offset"), in.get_int("limit"));
    if (!r.ok()) throw InputError("path", "\"" + path + "\"", r.status().message());
    at::Tensor t = r.value();
    const std::string& shape_text = in.get_string("image_shape");
    if (!shape_text.empty()) {
      std::vector<int64_t> shape{t.size(0)};
      int64_t n = 1;
      std::string cur;
      for (char ch : shape_text + ",") {
        if (ch == ',' || ch == ' ') {
          if (!cur.empty()) {
            shape.push_back(std::stoll(cur));
            n *= shape.back();
          }
          cur.clear();
        } else if (ch >= '0' && ch <= '9') {
          cur += ch;
        } else {
          throw InputError("image_shape", "\"" + shape_text + "\"", "expected numbers separated by commas");
        }
      }
      if (n != t.numel() / t.size(0))
        throw InputError("image_shape", "\"" + shape_text + "\"",
                         "has " + std::to_string(n) + " values per sample, the data has " + std::to_string(t.numel() / t.size(0)));
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
  c.description = "Fits a Gaussian mixture to data by EM (k-means++ initialisation, seeded, float64, variance floor) "
                  "and returns it as an exact-score MODEL with the data's sample shape.";
  c.inputs = {Port("dataset", "LATENT"), Int("components", 10, 1, 10000), Combo("covariance", {"diag", "isotropic"}),
              Int("iterations", 100, 1, 100000), Float("variance_floor", 1e-4, 1e-12, 10.0, 1e-5),
              Int("seed", 0, 0, 9223372036854775807.0), Float("sigma_min", 0.002, 1e-6, 1e4, 0.001),
              Float("sigma_max", 80.0, 1e-5, 1e5, 0.1), String("device", "default"), Combo("dtype", {"float32", "float64"})};
  c.outputs = {{"MODEL", "MODEL"}};
  return make_node(c, [](Context& ctx, const Inputs& in) {
    at::Tensor data = in.get<Latent>("dataset")->samples();
    FitOptions o;
    o.components = in.get_int("components");
    o.diagonal = in.get_string("covariance") == "diag";
    o.iterations = in.get_int("iterations");
    o.variance_floor = in.get_float("variance_floor");
    o.seed = static_cast<uint64_t>(in.get_int("seed"));
    if (data.dim() < 2 || data.size(0) < o.components)
      throw InputError("dataset", c10::str(data.sizes()),
                       "need at least as many samples as components (" + std::to_string(o.components) + ")");
    double smin = in.get_float("sigma_min"), smax = in.get_float("sigma_max");
    if (!(smin < smax)) throw InputError("sigma_min", std::to_string(smin), "sigma_min must be < sigma_max");
    c10::Device device(c10::kCPU);
    try {
      device = resolve_device(in.get_string("device"), ctx.default_device());
    } catch (const std::invalid_argument& e) {
      throw InputError("device", "\"" + in.get_string("device") + "\"", e.what());
    }
    FitResult fit = fit_mixture(data, o);
    ctx.info("EM converged after " + std::to_string(fit.iterations) + " iterations, mean log-likelihood " +
             std::to_string(fit.mean_log_likelihood));
    auto model = std::make_shared<GaussianMixture>(fit.params, smin, smax, device,
                                                   in.get_string("dtype") == "float64" ? at::kDouble : at::kFloat);
    return Outputs{Value(std::shared_ptr<const Object>(model))};
  });
}

}  // namespace sf::nodes
