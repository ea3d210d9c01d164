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

// A discrete VP table sigma_k (ascending), with k-diffusion's sigma <-> timestep maps. Errors are
// sf::InputErrors about TorchScriptModel's inputs: "sigma_list" (fewer than 2 entries, not
// positive, finite and strictly ascending), "beta_start", "beta_end", "table_steps".
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
  // Which of the settings above the caller chose. The others come from the file's metadata (the
  // kNetworkMetadataFile TrainDenoiser writes) when it has some, else keep the defaults above. A
  // chosen setting that differs from the metadata wins, with a warning (TorchScriptModel::notes).
  struct Given {
    bool parametrization = true, time_input = true, sigma_data = true, sigma_min = true, sigma_max = true,
         sample_shape = true;
  } given;
};

// The metadata a network trained here carries: a JSON object in the TorchScript archive's extra
// file of this name (torch.jit's _extra_files; Python reads it with
// torch.jit.load(path, _extra_files={"sigmaflow.json": ""})) and under "model" in TrainDenoiser's
// <prefix>_training.json: {"format": "sigmaflow-network-v1", "parametrization", "time_input",
// "sigma_data", "sigma_min", "sigma_max", "sample_shape"}.
inline constexpr const char* kNetworkMetadataFile = "sigmaflow.json";
std::string network_metadata_json(const TorchScriptSettings& settings);

class TorchScriptModel : public Model {
 public:
  // Loads and probes the module. Throws an sf::InputError naming the TorchScriptModel input it is
  // about: "path" for a missing, oversized or non-TorchScript file, a forward of the wrong arity or
  // an output of the wrong shape; "sample_shape", "time_input" or "sigma_min" for settings that do
  // not fit.
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
  // What load() did with the file's metadata: infos (settings taken from it) and warnings (a
  // chosen setting that differs from it, unreadable metadata).
  struct Notes {
    std::vector<std::string> info, warnings;
  };
  const Notes& notes() const { return notes_; }

 protected:
  at::Tensor denoise_batch(const at::Tensor& x, const NoiseLevels& sigma, const Conditioning& cond) const override;

 private:
  TorchScriptModel(TorchScriptSettings settings, ModelInfo info, std::unique_ptr<torch::jit::Module> module);
  TorchScriptSettings s_;
  std::unique_ptr<torch::jit::Module> module_;
  Notes notes_;
};

// Fills the settings the caller did not choose (TorchScriptSettings::given) from the metadata
// `text` (the kNetworkMetadataFile contents; empty: none) and notes what it took and where a chosen
// setting differs. Metadata that is not a complete, in-range sigmaflow-network-v1 object (finite
// positive sigmas, sigma_min < sigma_max, 1-8 dimensions of 1 .. 2^24) is ignored with a warning:
// the file still loads. Fuzzed by fuzz/fuzz_caches.cpp.
void apply_network_metadata(const std::string& text, TorchScriptSettings& s, TorchScriptModel::Notes& notes);

}  // namespace sf::diffusion
