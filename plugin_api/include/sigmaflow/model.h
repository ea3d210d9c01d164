// MODEL: the one interface schedulers and samplers see. Every model family (exact mixtures,
// TorchScript networks in eps / v / x0 / EDM / flow parametrisations, discrete VP tables) is
// mapped onto the variance-exploding denoiser D(x, sigma) ~ E[x0 | x0 + sigma n = x].
//
// Units: sigma is the VE noise level. It crosses this interface as host float64 (NoiseLevels),
// never as a device tensor, so a model reads it without a device synchronisation.
// Threading: a published Model is immutable; every method is const and may be called from any
// thread. Errors: denoise() throws (sf::InputError or std::exception); it is only ever called
// from inside some node's execute function, where the SDK turns exceptions into a Status.
#pragma once

#include <ATen/core/Tensor.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "sigmaflow/status.h"
#include "sigmaflow/value.h"

namespace sf {

// The noise level of each row of a batch, in host memory (float64): one value shared by every
// row, or one value per row. Cheap to copy for the uniform case.
class NoiseLevels {
 public:
  NoiseLevels(double sigma) : value_(sigma) {}  // NOLINT: implicit by design
  explicit NoiseLevels(std::vector<double> per_row) : per_row_(std::move(per_row)) {
    value_ = per_row_.empty() ? 0.0 : per_row_.front();
  }
  // True when every row has the same level (then `value()` is it).
  bool uniform() const { return per_row_.empty(); }
  double value() const { return value_; }
  double operator[](int64_t row) const { return uniform() ? value_ : per_row_[static_cast<size_t>(row)]; }
  // Rows given explicitly (0 when uniform: the level applies to any batch size).
  int64_t rows() const { return static_cast<int64_t>(per_row_.size()); }
  const std::vector<double>& per_row() const { return per_row_; }
  // The levels as a [batch] tensor with the given options (built on demand).
  at::Tensor to_tensor(int64_t batch, const at::TensorOptions& options) const;

 private:
  double value_ = 0.0;
  std::vector<double> per_row_;
};

// What a conditional model is conditioned on. ComfyUI's CONDITIONING, reduced to what the models
// here take: class labels (int64 [B] or [1]) for class-conditional models, or an embedding tensor
// ([B, ...] or [1, ...]) passed to a network. Empty means unconditional.
struct Conditioning {
  at::Tensor labels;     // int64 class labels, or undefined
  at::Tensor embedding;  // a tensor for the network's conditioning argument, or undefined
  bool empty() const { return !labels.defined() && !embedding.defined(); }
};

// How a network's raw output becomes the VE denoiser (conventions.md §6).
enum class Parametrization {
  kDenoiser,  // the model computes D(x, sigma) itself (exact models)
  kEps,       // eps-prediction (VP); D = x - sigma out
  kV,         // v-prediction
  kX0,        // D = out
  kEdm,       // Karras et al. preconditioning
  kFlow,      // rectified flow, sigma_f = sigma / (1 + sigma)
};
// What time value the network is fed.
enum class TimeInput {
  kSigma,            // sigma itself (flow: sigma_f)
  kLogSigmaQuarter,  // ln(sigma) / 4 (EDM)
  kDiscreteIndex,    // an index into the model's sigma table
  kFlowT1000,        // 1000 sigma_f
};

const char* to_string(Parametrization p);
const char* to_string(TimeInput t);
// Parses the names above ("ve"/"denoiser", "eps", "v", "x0", "edm", "flow"; "sigma",
// "log_sigma_quarter", "discrete_index", "flow_t1000"). Returns false for anything else.
bool parse_parametrization(const std::string& text, Parametrization& out);
bool parse_time_input(const std::string& text, TimeInput& out);

// D(x, sigma) = c_skip x + c_out F(c_in x, c_noise) for a network F (stable-diffusion.cpp's
// get_scalings, in VE space). c_noise is NaN for kDiscreteIndex: the model maps sigma to its own
// table index.
struct Scalings {
  double c_skip = 1.0, c_out = 1.0, c_in = 1.0, c_noise = 0.0;
};
Scalings scalings(Parametrization p, TimeInput t, double sigma, double sigma_data);

// Facts about a model, fixed at construction.
struct ModelInfo {
  double sigma_min = 0.002, sigma_max = 80.0, sigma_data = 1.0;
  std::vector<int64_t> sample_shape;  // per sample, e.g. {2} or {1, 28, 28}
  c10::Device device = c10::Device(c10::kCPU);
  c10::ScalarType dtype = c10::ScalarType::Float;
  Parametrization parametrization = Parametrization::kDenoiser;
  TimeInput time_input = TimeInput::kLogSigmaQuarter;
  // Same model and settings give the same fingerprint in every run; caches are keyed by it.
  std::string fingerprint;
  std::string description;  // one line for logs and reports
  // Conditioning the model accepts: class labels 0 .. num_classes - 1, and/or an embedding
  // (takes_embedding) of the per-sample shape embedding_shape (empty: any shape). Neither:
  // unconditional only.
  int64_t num_classes = 0;
  bool takes_embedding = false;
  std::vector<int64_t> embedding_shape;
};

// Exact models (mixtures) also offer their data distribution: nodes that need it declare
// Requires(..., kExactDensity) on their MODEL input, and validation refuses other models.
class SF_SHARED ExactDensity {
 public:
  virtual ~ExactDensity();
  // Exact log-density of the noised marginal at sigma, [B] float64.
  virtual at::Tensor log_density(const at::Tensor& x, double sigma) const = 0;
  // Component means [K, ...sample shape] and weights [K].
  virtual at::Tensor component_means() const = 0;
  virtual at::Tensor component_weights() const = 0;
  // n exact samples of the data distribution, generated on the CPU from `seed`, on the model's
  // device and dtype.
  virtual at::Tensor sample_data(int64_t n, uint64_t seed) const = 0;
};

class SF_SHARED Model : public Object {
 public:
  explicit Model(ModelInfo info) : info_(std::move(info)) {}
  ~Model() override;
  std::string type_name() const override { return "MODEL"; }
  std::string describe() const override;

  const ModelInfo& info() const { return info_; }
  double sigma_min() const { return info_.sigma_min; }
  double sigma_max() const { return info_.sigma_max; }
  double sigma_data() const { return info_.sigma_data; }
  const std::vector<int64_t>& sample_shape() const { return info_.sample_shape; }
  c10::Device device() const { return info_.device; }
  c10::ScalarType dtype() const { return info_.dtype; }
  const std::string& fingerprint() const { return info_.fingerprint; }

  // x: [B, ...sample_shape] on device(), dtype(). Returns the denoised x0 estimate with x's
  // shape, device and dtype. `cond` must be empty for unconditional models. Throws
  // sf::Interrupted before evaluating when the calling node is being interrupted, so every loop
  // over model calls stops within one call.
  at::Tensor denoise(const at::Tensor& x, const NoiseLevels& sigma, const Conditioning& cond = {}) const {
    throw_if_interrupted();
    return denoise_batch(x, sigma, cond);
  }
  // Evaluations of the underlying network one denoise() call costs (2 for classifier-free
  // guidance with cfg != 1); samplers count NFE with it.
  virtual int evaluations_per_call() const { return 1; }
  // Score of the noised marginal, (D(x, sigma) - x) / sigma^2.
  at::Tensor score(const at::Tensor& x, const NoiseLevels& sigma, const Conditioning& cond = {}) const;

  // Model time <-> sigma, as ComfyUI's model_sampling.timestep()/sigma(). The default is the
  // continuous EDM map t = ln(sigma)/4; discrete models use their table index.
  virtual double timestep(double sigma) const { return 0.25 * std::log(sigma); }
  virtual double sigma_at(double t) const { return std::exp(4.0 * t); }
  // The model's ascending table of sigmas (ComfyUI's model_sampling.sigmas): 1000 entries for
  // discrete models; continuous models default to 1000 log-spaced values in [sigma_min,
  // sigma_max] (as ComfyUI's ModelSamplingContinuousEDM).
  virtual std::vector<double> sigma_table() const;
  // The exact-density capability, or null.
  virtual const ExactDensity* exact() const { return nullptr; }

 protected:
  virtual at::Tensor denoise_batch(const at::Tensor& x, const NoiseLevels& sigma, const Conditioning& cond) const = 0;

 private:
  ModelInfo info_;
};

}  // namespace sf
