// A TorchScript network wrapped into the MODEL contract: the parametrisation (eps, v, x0, edm,
// flow) and time map (sigma, ln(sigma)/4, discrete table index, 1000 * flow time) turn the
// network's output into the VE denoiser D(x, sigma) (conventions.md §6).
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "sigmaflow/model.h"

namespace torch::jit {
struct Module;
}

namespace sf::nodes {

// A discrete VP table sigma_k (ascending), with k-diffusion's sigma <-> timestep maps.
class DiscreteTable {
 public:
  explicit DiscreteTable(std::vector<double> ascending_sigmas);
  // SD-style linear-beta table: betas = linspace(sqrt(b0), sqrt(b1), steps)^2.
  static DiscreteTable linear_beta(double beta_start, double beta_end, int64_t steps);
  const std::vector<double>& sigmas() const { return sigmas_; }
  // Fractional index by linear interpolation in log sigma (clamped to the table).
  double timestep(double sigma) const;
  // Nearest index in log sigma (ComfyUI's model_sampling.timestep).
  double nearest(double sigma) const;
  // sigma at a fractional index (log-linear interpolation).
  double sigma_at(double t) const;

 private:
  std::vector<double> sigmas_, log_sigmas_;
};

struct TorchScriptSettings {
  std::string path;
  std::string parametrization = "eps";     // eps | v | x0 | edm | flow
  std::string time_input = "discrete_index";  // sigma | log_sigma_quarter | discrete_index | flow_t1000
  std::string rounding = "nearest";        // nearest | interpolate (discrete_index only)
  double sigma_data = 1.0;
  double sigma_min = 0.002, sigma_max = 80.0;  // VE range (discrete tables override)
  std::shared_ptr<DiscreteTable> table;    // null: continuous
  std::vector<int64_t> sample_shape;
  c10::Device device = c10::Device(c10::kCPU);
  c10::ScalarType dtype = at::kFloat;
};

class TorchScriptModel : public Model {
 public:
  // Loads and probes the module; throws std::invalid_argument with a message naming the file on a
  // missing or non-TorchScript file, a forward of the wrong arity, or an output of the wrong shape.
  explicit TorchScriptModel(TorchScriptSettings settings);
  ~TorchScriptModel() override;

  at::Tensor denoise(const at::Tensor& x, const at::Tensor& sigma) const override;
  double sigma_min() const override { return sigma_min_; }
  double sigma_max() const override { return sigma_max_; }
  double sigma_data() const override { return s_.sigma_data; }
  std::vector<int64_t> sample_shape() const override { return s_.sample_shape; }
  c10::Device device() const override { return s_.device; }
  c10::ScalarType dtype() const override { return s_.dtype; }
  std::string parametrization() const override { return s_.parametrization; }
  std::string time_map() const override { return s_.time_input; }
  std::string fingerprint() const override { return fingerprint_; }
  double timestep(double sigma) const override;
  double sigma_at(double t) const override;
  at::Tensor sigma_table() const override;
  std::string describe() const override;

  // The time value fed to the network for a VE sigma (exposed for tests).
  double network_time(double sigma) const;

 private:
  TorchScriptSettings s_;
  double sigma_min_, sigma_max_;
  std::string fingerprint_;
  std::unique_ptr<torch::jit::Module> module_;
};

}  // namespace sf::nodes
