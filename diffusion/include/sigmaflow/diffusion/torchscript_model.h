// A TorchScript network wrapped into the MODEL contract: the parametrisation (eps, v, x0, edm,
// flow) and time input (sigma, ln(sigma)/4, discrete table index, 1000 * flow time) turn the
// network's output into the VE denoiser D(x, sigma) (conventions.md §6), through the scalings
// of sigmaflow/model.h.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "sigmaflow/model.h"

namespace torch::jit {
struct Module;
}

namespace sf::diffusion {

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
  Parametrization parametrization = Parametrization::kEps;
  TimeInput time_input = TimeInput::kDiscreteIndex;
  bool nearest_timestep = true;  // discrete_index: nearest (ComfyUI) or interpolated (k-diffusion)
  double sigma_data = 1.0;
  double sigma_min = 0.002, sigma_max = 80.0;  // VE range (discrete tables override)
  std::shared_ptr<DiscreteTable> table;        // null: continuous
  std::vector<int64_t> sample_shape;
  c10::Device device = c10::Device(c10::kCPU);
  c10::ScalarType dtype = c10::ScalarType::Float;
};

class TorchScriptModel : public Model {
 public:
  // Loads and probes the module. Throws std::invalid_argument with a message naming the file on
  // a missing, oversized or non-TorchScript file, a forward of the wrong arity, or an output of
  // the wrong shape.
  static std::shared_ptr<TorchScriptModel> load(TorchScriptSettings settings);
  // A module already in memory (e.g. just trained) whose saved bytes are `saved_bytes` (they fix
  // the fingerprint: the same as load() of those bytes gives). Takes the module over.
  static std::shared_ptr<TorchScriptModel> from_module(TorchScriptSettings settings, torch::jit::Module module,
                                                       const std::string& saved_bytes);
  ~TorchScriptModel() override;

  double timestep(double sigma) const override;
  double sigma_at(double t) const override;
  std::vector<double> sigma_table() const override;
  // The time value fed to the network for a VE sigma (exposed for tests).
  double network_time(double sigma) const;

 protected:
  at::Tensor denoise_batch(const at::Tensor& x, const NoiseLevels& sigma, const Conditioning& cond) const override;

 private:
  TorchScriptModel(TorchScriptSettings settings, ModelInfo info, std::unique_ptr<torch::jit::Module> module);
  TorchScriptSettings s_;
  std::unique_ptr<torch::jit::Module> module_;
};

}  // namespace sf::diffusion
