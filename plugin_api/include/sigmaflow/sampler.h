// SAMPLER and NOISE values, and the LATENT batch (k-diffusion's sampler contract).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sigmaflow/model.h"
#include "sigmaflow/value.h"

namespace sf {

// What a sampler receives besides the model, the state and the sigmas.
struct SampleContext {
  uint64_t seed = 0;  // per-step noise of stochastic samplers is generated on the CPU from this
  // Called after every step with (steps done, total steps); may be empty.
  std::function<void(int64_t, int64_t)> progress;
  // Filled by the sampler: model evaluations spent and the last denoised estimate.
  int64_t nfe = 0;
  at::Tensor denoised;
};

class SF_SHARED Sampler : public Object {
 public:
  std::string type_name() const override { return "SAMPLER"; }
  virtual std::string name() const = 0;
  // x: the start state (latent + sigmas[0] * noise) on the model's device; sigmas: the schedule
  // on the host (descending, ending in 0 for a full run). Runs sigmas.size() - 1 steps and returns
  // the final state. Never reads sigmas from the device.
  virtual at::Tensor sample(const Model& model, at::Tensor x, const std::vector<double>& sigmas,
                            SampleContext& ctx) const = 0;
  std::string describe() const override { return "SAMPLER " + name(); }
};

class SF_SHARED Noise : public Object {
 public:
  std::string type_name() const override { return "NOISE"; }
  // Initial noise shaped like `latent`, generated on the CPU (float32) and moved to latent's
  // device, so the same seed gives the same numbers on every machine. An undefined tensor means
  // "no noise" (DisableNoise).
  virtual at::Tensor generate(const at::Tensor& latent) const = 0;
  virtual uint64_t seed() const = 0;
};

// LATENT: a batch [B, ...sample shape] plus where it came from (for metrics and reports).
class SF_SHARED Latent : public Object {
 public:
  explicit Latent(at::Tensor samples) : samples_(std::move(samples)) {}
  std::string type_name() const override { return "LATENT"; }
  const at::Tensor& samples() const { return samples_; }

  // Provenance, filled by samplers: NFE spent, wall seconds, sampler, schedule, steps, seed.
  int64_t nfe = 0;
  double wall_seconds = 0.0;
  int64_t steps = 0;
  int64_t seed = -1;
  std::string sampler;
  std::vector<double> sigmas;
  std::string model_fingerprint;

 private:
  at::Tensor samples_;
};

}  // namespace sf
