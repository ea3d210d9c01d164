// LoadDataset and FitGaussianMixture.
#include <ATen/ATen.h>

#include "../common/text.h"
#include "nodes.h"
#include "sigmaflow/diffusion/dataset.h"
#include "sigmaflow/diffusion/mixture_fit.h"
#include "sigmaflow/ports.h"

namespace sf::nodes {

namespace {

// Declared once: each is the contract's entry and the typed reader in execute (sigmaflow/ports.h).
// LoadDataset
const In<std::string> kPath{String("path", "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")};
const In<int64_t> kOffset{Int("offset", 0, 0, 1e12)};
const In<int64_t> kLimit{Tooltip(Int("limit", 0, 0, 1e12), "number of samples (0 = all)")};
const In<std::string> kImageShape{String("image_shape", "")};
// FitGaussianMixture (its "device" input is read by model_device, shared with the other models)
const In<Latent> kDataset{Port("dataset", "LATENT")};
const In<int64_t> kComponents{Int("components", 10, 1, 10000)};
const In<std::string> kCovariance{Combo("covariance", {"diag", "isotropic"})};
const In<int64_t> kIterations{Int("iterations", 100, 1, 100000)};
const In<double> kVarianceFloor{Float("variance_floor", 1e-4, 1e-12, 10.0, 1e-5)};
const In<uint64_t> kSeed{Seed("seed")};
const In<double> kSigmaMin{Float("sigma_min", 0.002, 1e-6, 1e4, 0.001)};
const In<double> kSigmaMax{Float("sigma_max", 80.0, 1e-5, 1e5, 0.1)};
const In<std::string> kDevice{String("device", "default")};
const In<std::string> kDtype{Combo("dtype", {"float32", "float64"})};

}  // namespace

using diffusion::FitOptions;
using diffusion::FitResult;

NodeDef load_dataset_node() {
  NodeContract c = Node(
      "LoadDataset", kModelCategory,
      "Reads samples from an IDX file (MNIST/Fashion-MNIST format, gzip or plain; Debian's dataset-fashion-mnist "
      "package ships them, `dpkg -L dataset-fashion-mnist` lists the paths) or a .npy file. uint8 pixels are scaled "
      "to [-1, 1]; float data is kept. image_shape reshapes each sample (e.g. \"1, 28, 28\"; empty = as stored).",
      {kPath, kOffset, kLimit, kImageShape}, {{"LATENT", "samples"}});
  return make_node(c, [](Context& ctx, const Inputs& in) {
    const std::string path = input_path(ctx, in, kPath.name());
    auto r = diffusion::load_dataset(path, kOffset(in), kLimit(in));
    if (!r.ok()) throw InputError(kPath.name(), "\"" + path + "\"", r.status().message(), r.status().code());
    at::Tensor t = r.value();
    const std::string& shape_text = kImageShape(in);
    if (!shape_text.empty()) {
      std::vector<int64_t> shape = parse_shape(shape_text, kImageShape.name());
      int64_t n = 1;
      for (int64_t d : shape) n = (n < 0 || n > (int64_t{1} << 40) / d) ? -1 : n * d;
      if (n != t.numel() / t.size(0))
        throw InputError(kImageShape.name(), "\"" + shape_text + "\"",
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
  c.inputs = {kDataset, kComponents, kCovariance, kIterations, kVarianceFloor,
              kSeed,    kSigmaMin,   kSigmaMax,   kDevice,     kDtype};
  c.outputs = {{"MODEL", "MODEL", {kExactDensity}}};
  c.constraints = {Less(kSigmaMin.name(), kSigmaMax.name())};
  return make_node(c, [](Context& ctx, const Inputs& in) {
    at::Tensor data = kDataset(in)->samples();
    FitOptions o;
    o.components = kComponents(in);
    o.diagonal = kCovariance(in) == "diag";
    o.iterations = kIterations(in);
    o.variance_floor = kVarianceFloor(in);
    o.seed = kSeed(in);
    if (data.dim() < 2 || data.size(0) < o.components)
      throw InputError(kDataset.name(), c10::str(data.sizes()),
                       "need at least as many samples as components (" + std::to_string(o.components) + ")");
    if (data.numel() == 0)
      throw InputError(kDataset.name(), c10::str(data.sizes()), "the samples have no values (a zero-sized dimension)");
    if (!data.isfinite().all().item<bool>())
      throw InputError(kDataset.name(), c10::str(data.sizes()), "the samples contain NaN or Inf");
    double smin = kSigmaMin(in), smax = kSigmaMax(in);
    if (!(smin < smax)) throw InputError(kSigmaMin.name(), std::to_string(smin), "sigma_min must be < sigma_max");
    c10::Device device = model_device(ctx, in);
    FitResult fit = diffusion::fit_mixture(data, o);
    ctx.info("EM converged after " + std::to_string(fit.iterations) + " iterations, mean log-likelihood " +
             std::to_string(fit.mean_log_likelihood));
    auto model = std::make_shared<diffusion::GaussianMixture>(fit.params, smin, smax, device,
                                                              kDtype(in) == "float64" ? at::kDouble : at::kFloat);
    return Outputs{Value(std::shared_ptr<const Object>(model))};
  });
}

}  // namespace sf::nodes
