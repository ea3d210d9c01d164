// MODEL: the one interface schedulers and samplers see. Every model family (exact mixtures,
// TorchScript networks in eps / v / x0 / EDM / flow parametrisations, discrete VP tables) is
// mapped onto the variance-exploding denoiser D(x, sigma) ~ E[x0 | x0 + sigma n = x].
//
// Threading: all methods are const and may be called concurrently. Errors: methods throw
// sf::Error (or a std::exception) on failure; they are only ever called from inside some node's
// execute function, where the SDK turns exceptions into a node error.
#pragma once

#include <ATen/core/Tensor.h>

#include <cmath>
#include <string>
#include <vector>

#include "sigmaflow/value.h"

namespace sf {

class SF_SHARED Model : public Object {
 public:
  std::string type_name() const override { return "MODEL"; }

  // x: [B, ...sample_shape] on device(), dtype(); sigma: [B] (same device, any float dtype).
  // Returns the denoised x0 estimate, same shape/device/dtype as x.
  virtual at::Tensor denoise(const at::Tensor& x, const at::Tensor& sigma) const = 0;

  // Score of the noised marginal, (D(x, sigma) - x) / sigma^2, derived from denoise().
  at::Tensor score(const at::Tensor& x, const at::Tensor& sigma) const;

  virtual double sigma_min() const = 0;
  virtual double sigma_max() const = 0;
  virtual double sigma_data() const { return 1.0; }
  virtual std::vector<int64_t> sample_shape() const = 0;
  virtual c10::Device device() const = 0;
  virtual c10::ScalarType dtype() const = 0;
  // The original parametrisation ("ve", "eps", "v", "x0", "edm", "flow") and time map
  // ("sigma", "log_sigma_quarter", "discrete_index", "flow_t1000").
  virtual std::string parametrization() const { return "ve"; }
  virtual std::string time_map() const { return "log_sigma_quarter"; }
  // Same model and settings give the same fingerprint in every run; used to key caches.
  virtual std::string fingerprint() const = 0;

  // Model time <-> sigma, as ComfyUI's model_sampling.timestep()/sigma(). The default is the
  // continuous EDM map t = ln(sigma)/4. Discrete models override with their table index.
  virtual double timestep(double sigma) const { return 0.25 * std::log(sigma); }
  virtual double sigma_at(double t) const { return std::exp(4.0 * t); }
  // The model's ascending table of sigmas (ComfyUI's model_sampling.sigmas): 1000 entries for
  // discrete models; continuous models default to 1000 log-spaced values in [sigma_min,
  // sigma_max] (as ComfyUI's ModelSamplingContinuousEDM). Float64, CPU.
  virtual at::Tensor sigma_table() const;

  // Optional capabilities of exact models (mixtures); default: not available.
  // Exact log-density of the noised marginal at sigma, [B] float64; undefined tensor if unknown.
  virtual at::Tensor log_density(const at::Tensor& x, double sigma) const { (void)x; (void)sigma; return {}; }
  // Component means [K, ...] and weights [K] for mixture models; undefined tensors otherwise.
  virtual at::Tensor component_means() const { return {}; }
  virtual at::Tensor component_weights() const { return {}; }
  // n exact samples from the data distribution, generated on the CPU from `seed`; undefined if
  // the model cannot sample exactly.
  virtual at::Tensor sample_data(int64_t n, uint64_t seed) const { (void)n; (void)seed; return {}; }

  std::string describe() const override;
};

}  // namespace sf
