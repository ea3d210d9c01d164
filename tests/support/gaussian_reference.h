// Test support: an isotropic Gaussian N(0, c^2 I) as a MODEL (closed-form denoiser
// D = c^2 / (c^2 + sigma^2) x), and an independent float64 scalar reference of the k-diffusion
// update rules on it. On this model every deterministic sampler maps x to m * x; the reference
// computes m by the published recursions, one scalar per step.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "sigmaflow/model.h"

namespace sf::test {

class GaussianModel : public Model {
 public:
  GaussianModel(double c, int64_t dim, c10::ScalarType dtype = at::kDouble);
  mutable int64_t calls = 0;

 protected:
  at::Tensor denoise_batch(const at::Tensor& x, const NoiseLevels& sigma, const Conditioning& cond) const override;

 private:
  double c_;
};

// The multiplier m with sampler(x) = m x on N(0, c^2), for the deterministic samplers (and the
// SDE ones with eta = 0). `lower_order_final`: -1 auto (on below 15 steps), 0 off (k-diffusion's
// and ComfyUI's behaviour, the default), 1 on.
double reference_multiplier(const std::string& sampler, double c, const std::vector<double>& sigmas,
                            int lower_order_final = 0);
// Exact probability-flow ODE solution from sigmas.front() to s (s > 0), and to 0.
double exact_multiplier(double c, double from, double to);

}  // namespace sf::test
