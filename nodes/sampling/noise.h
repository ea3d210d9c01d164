// NOISE values: seeded CPU Gaussian noise, no noise, or an explicit tensor.
#pragma once

#include <ATen/core/Tensor.h>

#include "sigmaflow/sampler.h"

namespace sf::nodes {

// torch.randn(latent.shape, generator=manual_seed(seed)) on the CPU in float32 (ComfyUI's
// prepare_noise), moved to the latent's device and dtype.
class RandomNoiseObject : public Noise {
 public:
  explicit RandomNoiseObject(uint64_t seed) : seed_(seed) {}
  at::Tensor generate(const at::Tensor& latent) const override;
  uint64_t seed() const override { return seed_; }
  std::string describe() const override { return "NOISE seed " + std::to_string(seed_); }

 private:
  uint64_t seed_;
};

class DisabledNoise : public Noise {
 public:
  at::Tensor generate(const at::Tensor&) const override { return {}; }
  uint64_t seed() const override { return 0; }
  std::string describe() const override { return "NOISE disabled"; }
};

class ExplicitNoise : public Noise {
 public:
  explicit ExplicitNoise(at::Tensor noise) : noise_(std::move(noise)) {}
  at::Tensor generate(const at::Tensor& latent) const override;
  uint64_t seed() const override { return 0; }
  std::string describe() const override { return "NOISE from a latent " + c10::str(noise_.sizes()); }

 private:
  at::Tensor noise_;
};

}  // namespace sf::nodes
