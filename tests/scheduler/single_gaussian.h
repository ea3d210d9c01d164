// The closed-form test model of the optimal-steps tests: one Gaussian N(mu, s0^2 I) in 3-D, whose
// denoiser is D(x, s) = (s0^2 x + s^2 mu) / (s0^2 + s^2) and whose probability-flow ODE is solved
// in closed form (Euler's output is a fixed multiple of x(sigma_max) - mu for every schedule).
#pragma once

#include <ATen/ATen.h>

#include <memory>

#include "sigmaflow/diffusion/gaussian_mixture.h"

namespace sf::testing {

constexpr double kGaussianStd = 0.5, kGaussianSigmaMin = 0.002, kGaussianSigmaMax = 80.0;

inline std::shared_ptr<diffusion::GaussianMixture> single_gaussian() {
  diffusion::MixtureParams p;
  p.means = at::tensor({0.3, -0.2, 0.1}, at::kDouble).reshape({1, 3});
  p.variances = at::full({1, 3}, kGaussianStd * kGaussianStd, at::kDouble);
  p.weights = at::ones({1}, at::kDouble);
  p.sample_shape = {3};
  p.name = "custom";
  return std::make_shared<diffusion::GaussianMixture>(p, kGaussianSigmaMin, kGaussianSigmaMax, c10::Device(c10::kCPU),
                                                      at::kDouble);
}

}  // namespace sf::testing
