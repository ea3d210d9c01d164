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
  GaussianModel(double c, int64_t dim, c10::ScalarType dtype = at::kDouble) : c_(c), dim_(dim), dtype_(dtype) {}
  at::Tensor denoise(const at::Tensor& x, const at::Tensor& sigma) const override;
  double sigma_min() const override { return 0.002; }
  double sigma_max() const override { return 80.0; }
  std::vector<int64_t> sample_shape() const override { return {dim_}; }
  c10::Device device() const override { return c10::Device(c10::kCPU); }
  c10::ScalarType dtype() const override { return dtype_; }
  std::string fingerprint() const override { return "gaussian-" + std::to_string(c_) + "-" + std::to_string(dim_); }
  mutable int64_t calls = 0;

 private:
  double c_;
  int64_t dim_;
  c10::ScalarType dtype_;
};

// The multiplier m with sampler(x) = m x on N(0, c^2), for the deterministic samplers (and the
// SDE ones with eta = 0). `lower_order_final` as in SamplerOptions (-1 auto).
double reference_multiplier(const std::string& sampler, double c, const std::vector<double>& sigmas,
                            int lower_order_final = -1);
// Exact probability-flow ODE solution from sigmas.front() to s (s > 0), and to 0.
double exact_multiplier(double c, double from, double to);

}  // namespace sf::test
